"""The pcscd harness: fail under CI, skip elsewhere, and say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.testing import pcscd
from host.transport.doctor import VPCDConfig

pytestmark = pytest.mark.unit


def unavailable(timeout: float = 0.0) -> pcscd.PCSCStack:
    raise pcscd.PCSCStackUnavailable("pcscd is not installed (apt-get install pcscd)")


def test_missing_stack_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcscd, "ensure_pcsc_stack", unavailable)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install pcscd"):
        pcscd.require_pcsc_stack()


def test_missing_stack_skips_with_the_reason_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcscd, "ensure_pcsc_stack", unavailable)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="pcscd \\+ vpcd unavailable: pcscd is not"):
        pcscd.require_pcsc_stack()


def test_reasons_for_missing_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcscd, "pyscard_installed", lambda: False)
    with pytest.raises(pcscd.PCSCStackUnavailable, match="pyscard"):
        pcscd._start_or_adopt(0.1)
    monkeypatch.setattr(pcscd, "pyscard_installed", lambda: True)
    monkeypatch.setattr(pcscd, "read_vpcd_config", lambda: None)
    with pytest.raises(pcscd.PCSCStackUnavailable, match="vsmartcard-vpcd"):
        pcscd._start_or_adopt(0.1)
    config = VPCDConfig("Virtual PCD", Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"), 35963)
    monkeypatch.setattr(pcscd, "read_vpcd_config", lambda: config)
    monkeypatch.setattr(pcscd, "pcscd_running", lambda: False)
    monkeypatch.setattr(pcscd, "find_pcscd", lambda: None)
    monkeypatch.setattr(Path, "is_file", lambda self: True)
    with pytest.raises(pcscd.PCSCStackUnavailable, match="apt-get install pcscd"):
        pcscd._start_or_adopt(0.1)


def test_a_pcscd_we_did_not_start_is_never_restarted() -> None:
    stack = pcscd.PCSCStack(readers=pcscd.virtual_reader_names())
    assert not stack.owned
    with pytest.raises(pcscd.PCSCStackUnavailable, match="not restarting"):
        stack.restart()
    stack.stop()  # harmless


def test_virtual_reader_names_follow_pcsc_lite() -> None:
    assert pcscd.virtual_reader_names() == ("Virtual PCD 00 00", "Virtual PCD 00 01")
