"""The QA tools through the real PC/SC stack: pcscd + vpcd, as any PC/SC program sees the card."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from host.gp import parse_key_spec
from host.qa.conformance import ConformanceSuite, Outcome
from host.qa.conformance.secure import gp_secure_opener, gp_terminator
from host.transport.pcsc import PCSCTransport
from tests.qa._docs import blocks, read
from tests.qa._known import KNOWN_DEVIATIONS, key

pytestmark = [pytest.mark.vpcd, pytest.mark.timeout(300)]

KEYS = parse_key_spec("default")


def test_the_fixture_serves_the_card_on_both_virtual_slots(vpcd_card) -> None:
    assert all(isinstance(t.inner, PCSCTransport) for t in vpcd_card.transports.values())
    assert vpcd_card.chip(1).atr == vpcd_card.simulated.chip1.atr
    assert vpcd_card.chip(2).transmit(bytes.fromhex("00A4040007F0000000020101"))[-2:] == b"\x90\x00"


def test_the_conformance_suite_passes_through_the_virtual_reader(vpcd_card) -> None:
    transports = vpcd_card.transports
    result = ConformanceSuite(transports, destructive=True, secure_opener=gp_secure_opener(KEYS),
                              terminate=gp_terminator(transports, KEYS)).run()
    unexpected = [f"{key(r)}: {r.detail}" for r in result.failures()
                  if key(r) not in KNOWN_DEVIATIONS]
    assert not unexpected, "\n".join(unexpected)
    assert result.counts()[Outcome.PASS] > 250


def test_the_same_tests_run_against_a_reader(vpcd_card, tmp_path: Path) -> None:
    """``--dualcard-reader pcsc:…``: transports to the card in that reader; simulator tests skip.

    The fuzz example of docs/qa.md §3 runs there too: every malformed APDU it draws is one
    PC/SC sends (4 bytes at least), answered by the card.
    """
    fuzz = next(b.text for b in blocks(read("qa.md")) if b.name == "test_fuzz.py")
    (tmp_path / "test_fuzz.py").write_text(fuzz)
    (tmp_path / "test_pos.py").write_text(
        "def test_balance(chip2):\n"
        "    assert chip2.transmit(bytes.fromhex('00A4040007F0000000020101'))[-2:] == b'\\x90\\x00'\n"
        "    assert type(chip2.inner).__name__ == 'PCSCTransport'\n"
        "\n"
        "def test_faults(card_faults):\n"
        "    raise AssertionError('needs the simulator: must be skipped')\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--dualcard-reader", "pcsc:Virtual PCD", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert "2 passed, 1 skipped" in run.stdout, run.stdout + run.stderr
