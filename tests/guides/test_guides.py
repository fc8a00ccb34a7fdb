"""Every guide runs as written: its shell blocks, in order, in one bash session in a fresh
clone's directory (tests/guides/sandbox.py), the way a reader copies them into a terminal.

A block that cannot run here says so in the page (```sh no-run <reason>); any other block
that the sandbox cannot run fails the first test. Blocks marked vpcd use the virtual
reader: the second test runs the page without them, the third with them, holding the
reader, its pcscd started by the page's own command (``dualcard sim serve --start-pcscd``).
The python blocks run in the tests of each guide's area (tests/docblocks.py ``run_page``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from host.testing.pcscd import PCSCStackUnavailable, check_pcsc_stack, skip_or_fail
from host.testing.vpcd import vpcd_lock
from tests.docblocks import DOCS, page_blocks, shell_problems
from tests.guides.sandbox import Ran, make_sandbox

PAGES = sorted(p.name for p in DOCS.glob("*.md"))
GUIDES = [page for page in PAGES if any(b.shell and b.no_run is None for b in page_blocks(page))]
THROUGH_PCSC = [page for page in GUIDES
                if any(b.shell and b.vpcd and b.no_run is None for b in page_blocks(page))]
#: what the virtual-reader part of a page says happens, and how often it must be seen
SAYS_THROUGH_PCSC = {
    # the card, then its replacement (same PAN, next sequence number)
    "operators.md": [("(622203******0774, expiry 3012) issued", 2), ("life cycle SECURED", 2)],
    "qa.md": [("PASSED: ", 2)],  # the suite in process, then through pcscd
    "virtual-reader.md": [("Virtual PCD 00 01", 1)],  # listed once the card is in
}


@pytest.mark.parametrize("page", PAGES)
def test_every_shell_block_runs_or_says_why_not(page: str) -> None:
    problems = [problem for block in page_blocks(page) if block.shell
                for problem in shell_problems(block)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", GUIDES)
def test_the_guide_runs_as_written(page: str, tmp_path: Path) -> None:
    ran = _run(page, tmp_path, with_vpcd=False)
    assert ran.exit_code == 0, ran.tail()


@pytest.mark.vpcd
@pytest.mark.parametrize("page", THROUGH_PCSC)
def test_the_guide_runs_through_the_virtual_reader(page: str, tmp_path: Path) -> None:
    try:
        check_pcsc_stack()
    except PCSCStackUnavailable as exc:
        skip_or_fail(f"pcscd + vpcd unavailable: {exc}")
    with vpcd_lock():
        ran = _run(page, tmp_path, with_vpcd=True)
    assert ran.exit_code == 0, ran.tail()
    for text, times in SAYS_THROUGH_PCSC[page]:
        assert ran.output.count(text) == times, (text, ran.tail())


def _run(page: str, where: Path, *, with_vpcd: bool) -> Ran:
    blocks = page_blocks(page)
    sandbox = make_sandbox(where)
    sandbox.write_files(blocks)
    return sandbox.run(blocks, with_vpcd=with_vpcd)
