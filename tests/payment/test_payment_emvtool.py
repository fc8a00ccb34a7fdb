"""An independent EMV client reads chip 1: python-emv's ``emvtool`` through pcscd + vpcd.

python-emv (PyPI ``emv`` 1.0.14) pins old pyscard and click, so it gets its own
virtual environment, built once and cached (``$DUALCARD_TEST_CACHE`` or the temp
directory). It insists on T=0 (``connect(T0_protocol)`` then an assertion), reads
the PSE's directory records, selects each application and reads records SFI 1–30 ×
1–15, then GET DATA 9F17/9F36/9F13. Without the package or the PC/SC stack the test
skips with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.testing.pcscd import require_pcsc_stack, skip_or_fail, wait_for_removal
from host.testing.vpcd import vpcd_lock
from host.transport.base import TransportError
from host.transport.pcsc import PCSCTransport, list_pcsc_readers
from simulator.card import SimulatedCard
from simulator.vpcd.bridge import VPCDBridge
from tests.payment.cards import personalised_card

pytestmark = [pytest.mark.vpcd, pytest.mark.slow, pytest.mark.timeout(600)]

EMV_REQUIREMENT = "emv==1.0.14"


def emvtool() -> Path:
    """The cached ``emvtool``, installing python-emv into its own venv on first use."""
    cache = Path(os.environ.get("DUALCARD_TEST_CACHE", tempfile.gettempdir()))
    venv = cache / "dualcard-python-emv-1.0.14"
    tool = venv / "bin" / "emvtool"
    if tool.is_file():
        return tool
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        EMV_REQUIREMENT], check=True, capture_output=True, text=True, timeout=480)
    except subprocess.CalledProcessError as exc:
        skip_or_fail(f"cannot install {EMV_REQUIREMENT} (pyscard 2.0.0 needs swig and "
                     f"libpcsclite-dev to build): {(exc.stderr or '')[-400:]}")
    except subprocess.TimeoutExpired:
        skip_or_fail(f"installing {EMV_REQUIREMENT} timed out")
    return tool


def wait_for_t0_card(reader: str, atr: bytes, timeout: float = 15.0) -> str:
    """Wait for the card, connecting with T=0 only; return the negotiated protocol.

    pcscd fixes a powered card's protocol at the first connection: a client that
    accepts both gets T=1, and a T=0-only client (python-emv) is then refused with
    "protocol mismatch" until the card is powered down. So the first connection
    after insertion asks for T=0 (docs/decisions-payment.md, P6).
    """
    deadline = time.monotonic() + timeout
    while True:
        transport = PCSCTransport(reader, protocol="T0")
        try:
            transport.connect()
            if transport.atr == atr:
                return transport.protocol
        except TransportError:
            if time.monotonic() > deadline:
                raise
        finally:
            transport.disconnect()
        time.sleep(0.05)


@pytest.fixture(scope="module")
def served_card() -> Iterator[tuple[SimulatedCard, int]]:
    emvtool()
    stack = require_pcsc_stack()
    card = personalised_card()
    with vpcd_lock():  # vpcd's ports are one machine-wide resource
        bridge = VPCDBridge(card.chip1, slot=0)
        bridge.start()
        try:
            assert wait_for_t0_card(stack.readers[0], card.chip1.atr) == "T=0"
            yield card, list_pcsc_readers().index(stack.readers[0])
        finally:
            bridge.stop()
            wait_for_removal(stack.readers[0])


def emv(index: int, *args: str) -> str:
    tool = emvtool()
    result = subprocess.run([str(tool), "-r", str(index), *args], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def test_emvtool_lists_both_applications(served_card) -> None:
    _, index = served_card
    out = emv(index, "listapps")
    assert "DUALCARD DEBIT" in out and "DUALCARD CREDIT" in out
    assert "F0 00 00 00 01 01 01" in out and "F0 00 00 00 01 01 02" in out


def test_emvtool_reads_every_application(served_card) -> None:
    card, index = served_card
    out = emv(index, "info")
    assert "Error reading" not in out
    assert out.count("Application ") >= 2
    assert "6200000000000005" in out and "CN" in out  # PAN (5A), issuer country (5F28)
    assert "ZHANG/SAN" in out and '"DUALCARD CREDIT"' in out
    assert "pin_retries" in out and "atc" in out
    assert card.chip1.internal_errors == []
