"""Where a guide's shell blocks run: a fresh clone's working directory and a shell whose
``dualcard``, ``python`` and ``pip`` are this checkout's, as after ``make venv``.

- The working directory holds copies of the clone's ``docs`` and ``examples`` (the paths
  the guides name), so nothing a guide writes lands in the repository.
- ``dualcard`` and ``python`` run this checkout with the test's interpreter.
- ``pip install DIR`` installs a local project the way an editable install leaves it for
  Python — its packages importable, its entry points registered — into the sandbox's own
  site directory, offline and without touching the environment running the tests.
- No terminal: the environment carries what the guides say a terminal-less run needs
  (``$DUALCARD_KEYS_PASSPHRASE``) and no other ``DUALCARD_*`` setting of the caller.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.docblocks import Block, bash_session

ROOT = Path(__file__).resolve().parents[2]
#: the passphrase of the sealed key files the guides make (a terminal-less run's way)
PASSPHRASE = "guides are run as written"
#: the environment variables of the caller a guide run keeps among DUALCARD_*
_KEPT = ("DUALCARD_VPCD_LOCK",)

_DUALCARD = """#!{python}
from host.cli.main import main
main()
"""

_PIP = '''#!{python}
"""pip for the guides: `pip install [-e] DIR` of a local project into $GUIDE_SITE."""
import os, shutil, sys, tomllib
from pathlib import Path

args = [a for a in sys.argv[1:] if a != "-e"]
if args[:1] != ["install"] or len(args) != 2 or not Path(args[1], "pyproject.toml").is_file():
    sys.exit(f"the guides' pip installs one local project directory, not {{sys.argv[1:]}}")
source, site = Path(args[1]), Path(os.environ["GUIDE_SITE"])
project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
meta = project["project"]
for package in project["tool"]["setuptools"]["packages"]:
    shutil.copytree(source / package, site / package, dirs_exist_ok=True)
info = site / f"{{meta['name'].replace('-', '_')}}-{{meta['version']}}.dist-info"
info.mkdir(parents=True, exist_ok=True)
(info / "METADATA").write_text(
    f"Metadata-Version: 2.1\\nName: {{meta['name']}}\\nVersion: {{meta['version']}}\\n")
groups = meta.get("entry-points", {{}})
(info / "entry_points.txt").write_text("".join(
    f"[{{group}}]\\n" + "".join(f"{{k}} = {{v}}\\n" for k, v in points.items())
    for group, points in groups.items()))
print(f"Successfully installed {{meta['name']}}-{{meta['version']}}")
'''


@dataclass(frozen=True)
class Ran:
    exit_code: int
    output: str

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


@dataclass(frozen=True)
class Sandbox:
    clone: Path
    env: dict[str, str]

    def write_files(self, blocks: list[Block]) -> None:
        """The files a page shows (``<!-- file: NAME -->``, ``file=NAME``), as a reader saves them."""
        for block in blocks:
            if block.file is not None:
                (self.clone / block.file).write_text(block.text, encoding="utf-8")

    def run(self, blocks: list[Block], *, with_vpcd: bool, timeout: float = 240.0,
            grace: float = 10.0) -> Ran:
        """Run the page's shell blocks in one bash session; whatever it left running is
        stopped afterwards (a server a failed guide did not stop)."""
        script, log = self.clone.parent / "guide.sh", self.clone.parent / "guide.log"
        script.write_text(bash_session(blocks, with_vpcd=with_vpcd, grace=grace), encoding="utf-8")
        with log.open("wb") as output:  # a file: a leftover server cannot hold it open
            shell = subprocess.Popen(["bash", str(script)], cwd=self.clone, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=output,
                                     stderr=subprocess.STDOUT, start_new_session=True)
            try:
                code = shell.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = -1
            finally:
                _stop(shell.pid)
                shell.wait()
        text = log.read_text(encoding="utf-8", errors="replace")
        if code == -1:
            text += f"\n::the guide did not finish in {timeout:.0f} s"
        return Ran(code, text)


def _stop(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)


def make_sandbox(where: Path) -> Sandbox:
    clone, bin_dir, site = where / "clone", where / "bin", where / "site"
    for part in ("docs", "examples"):
        shutil.copytree(ROOT / part, clone / part,
                        ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    bin_dir.mkdir()
    site.mkdir()
    _tool(bin_dir / "dualcard", _DUALCARD.format(python=sys.executable))
    _tool(bin_dir / "pip", _PIP.format(python=sys.executable))
    for name in ("python", "python3"):
        _tool(bin_dir / name, f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALCARD_") or k in _KEPT}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=f"{ROOT}{os.pathsep}{site}", GUIDE_SITE=str(site),
               DUALCARD_KEYS_PASSPHRASE=PASSPHRASE, HOME=str(where))
    return Sandbox(clone, env)


def _tool(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
