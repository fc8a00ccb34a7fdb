"""vsmartcard's own Python card emulator, run unmodified as a benchmark baseline.

Prerequisites (Debian, as root):

    apt-get install pcscd vsmartcard-vpcd vsmartcard-vpicc python3-virtualsmartcard

As packaged, two things stop it from running, and both are fixed here at run
time without copying any of its code:

- python3-virtualsmartcard installs under /usr/lib/python3/site-packages/
  virtualsmartcard, which is not on Debian's module path: that directory is
  put on ``sys.path``.
- Without PyCrypto its CryptoUtils falls back to the Python 2 ``sha`` module:
  a ``sha`` module backed by ``hashlib.sha1`` is registered.

Usage:

    python bench/baseline_vicc.py serve [--host 127.0.0.1] [--port 35963]
        runs /usr/bin/vicc (its stock ISO 7816 card) against vpcd
    python bench/baseline_vicc.py inproc [--count 20000]
        prints how many APDUs/s its card OS's execute() answers in process
"""

from __future__ import annotations

import argparse
import hashlib
import runpy
import sys
import time
import types
from pathlib import Path
from typing import Any

VICC_LIBRARY = Path("/usr/lib/python3/site-packages/virtualsmartcard")
VICC_SCRIPT = Path("/usr/bin/vicc")
SELECT_MF = bytes.fromhex("00A4000C023F00")  # answered 9000 by the stock card


class BaselineUnavailable(RuntimeError):
    """The Debian vsmartcard packages are not installed."""


def prepare_import() -> None:
    """Make ``import virtualsmartcard`` work on a Debian install."""
    if not (VICC_LIBRARY / "virtualsmartcard").is_dir():
        raise BaselineUnavailable(
            f"{VICC_LIBRARY} not found: apt-get install vsmartcard-vpicc python3-virtualsmartcard"
        )
    if str(VICC_LIBRARY) not in sys.path:
        sys.path.insert(0, str(VICC_LIBRARY))
    if "sha" not in sys.modules:
        shim = types.ModuleType("sha", "hashlib-backed stand-in for the Python 2 sha module")
        shim.new = hashlib.sha1  # type: ignore[attr-defined]
        shim.digest_size = 20  # type: ignore[attr-defined]
        sys.modules["sha"] = shim


def stock_card_os() -> Any:
    """The ISO 7816 card vicc emulates by default (``vicc -t iso7816``)."""
    prepare_import()
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # its card generator warns on the root logger
    from virtualsmartcard.CardGenerator import CardGenerator
    from virtualsmartcard.VirtualSmartcard import Iso7816OS

    master_file, sam = CardGenerator("iso7816").getCard()
    return Iso7816OS(master_file, sam)


def inproc_rate(count: int, apdu: bytes = SELECT_MF) -> float:
    """APDUs per second through the card OS's ``execute()``, no I/O at all."""
    card_os = stock_card_os()
    response = card_os.execute(apdu)
    if response[-2:] != b"\x90\x00":
        raise BaselineUnavailable(f"stock card answered {response.hex().upper()} to SELECT MF")
    started = time.perf_counter()
    for _ in range(count):
        card_os.execute(apdu)
    return count / (time.perf_counter() - started)


def serve(host: str, port: int) -> None:
    """Run the packaged vicc script itself, connected to vpcd at host:port."""
    prepare_import()
    if not VICC_SCRIPT.is_file():
        raise BaselineUnavailable(f"{VICC_SCRIPT} not found: apt-get install vsmartcard-vpicc")
    sys.argv = [str(VICC_SCRIPT), "--type", "iso7816", "--hostname", host, "--port", str(port)]
    runpy.run_path(str(VICC_SCRIPT), run_name="__main__")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="attach vicc's stock card to vpcd")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=35963)
    inproc_cmd = commands.add_parser("inproc", help="execute() rate in process")
    inproc_cmd.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    try:
        if args.command == "serve":
            serve(args.host, args.port)
        else:
            print(f"{inproc_rate(args.count):.0f} APDU/s")
    except BaselineUnavailable as exc:
        print(f"baseline unavailable: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
