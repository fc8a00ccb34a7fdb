"""The pcscd harness: fail under CI, skip elsewhere, and say why."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
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
        pcscd.start_pcscd(0.1)
    monkeypatch.setattr(pcscd, "pyscard_installed", lambda: True)
    monkeypatch.setattr(pcscd, "read_vpcd_config", lambda: None)
    with pytest.raises(pcscd.PCSCStackUnavailable, match="vsmartcard-vpcd"):
        pcscd.start_pcscd(0.1)
    config = VPCDConfig("Virtual PCD", Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"), 35963)
    monkeypatch.setattr(pcscd, "read_vpcd_config", lambda: config)
    monkeypatch.setattr(pcscd, "pcscd_running", lambda: False)
    monkeypatch.setattr(pcscd, "find_pcscd", lambda: None)
    monkeypatch.setattr(Path, "is_file", lambda self: True)
    with pytest.raises(pcscd.PCSCStackUnavailable, match="apt-get install pcscd"):
        pcscd.start_pcscd(0.1)


def test_a_pcscd_we_did_not_start_is_never_restarted() -> None:
    stack = pcscd.PCSCStack(readers=pcscd.virtual_reader_names())
    assert not stack.owned
    with pytest.raises(pcscd.PCSCStackUnavailable, match="not restarting"):
        stack.restart()
    stack.stop()  # harmless


def test_virtual_reader_names_follow_pcsc_lite() -> None:
    assert pcscd.virtual_reader_names() == ("Virtual PCD 00 00", "Virtual PCD 00 01")


_HOLD = """
import sys
from host.testing.pcscd import virtual_reader_lock
with virtual_reader_lock(settle=False):
    print("holding", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def lock_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vpcd.lock"
    monkeypatch.setattr(pcscd, "LOCK_PATH", path)
    monkeypatch.setenv("DUALCARD_VPCD_LOCK", str(path))
    return path


@pytest.fixture
def other_process(lock_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the virtual reader until its stdin closes."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    try:
        yield holder
    finally:
        holder.communicate(timeout=30)


def test_the_virtual_reader_is_one_process_s_at_a_time(
        other_process: subprocess.Popen[str]) -> None:
    refused = pytest.raises(pcscd.PCSCStackUnavailable, match=f"in use by pid {other_process.pid}")
    with refused, pcscd.virtual_reader_lock(timeout=0.3, settle=False):
        pass


def test_the_lock_is_reentrant_within_a_process(lock_path: Path) -> None:
    with pcscd.virtual_reader_lock(timeout=1, settle=False), \
            pcscd.virtual_reader_lock(timeout=1, settle=False):
        assert lock_path.read_text() == f"pid {os.getpid()}"
    with pcscd.virtual_reader_lock(timeout=1, settle=False):  # released by the outer exit
        pass


def test_only_the_pcscd_dualcard_started_is_its_own(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pcscd, "PCSCD_PID", tmp_path / "pcscd.pid")
    assert pcscd._started_by_dualcard() is None  # no pid file
    (tmp_path / "pcscd.pid").write_text(f"{os.getpid()}\n")  # a process, but not pcscd
    assert pcscd._started_by_dualcard() is None
    (tmp_path / "pcscd.pid").write_text("not a pid\n")
    assert pcscd._started_by_dualcard() is None
