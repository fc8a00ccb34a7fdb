"""Makes pcscd with the vpcd driver available to tests and benchmarks.

If a pcscd already runs it is used as it is. Otherwise ``pcscd --foreground``
is started as a child process (it needs root to create /run/pcscd), logging to
a temporary file, and stopped when the interpreter exits. The stack is ready
when pcscd lists both ``Virtual PCD`` slots.

:func:`require_pcsc_stack` is what a test calls: a missing package or a pcscd
that will not start makes the test fail under ``CI=true`` (CI installs the
stack, so its absence is a bug) and skip with the reason elsewhere.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

from apdu_specs.errors import RemoteError
from host.transport.base import TransportError
from host.transport.doctor import find_pcscd, pcscd_running, pyscard_installed, read_vpcd_config

__all__ = [
    "LOCK_PATH",
    "PCSCStack",
    "PCSCStackUnavailable",
    "ensure_pcsc_stack",
    "require_pcsc_stack",
    "skip_or_fail",
    "virtual_reader_names",
    "wait_for_card",
    "wait_for_removal",
]

READY_TIMEOUT = 15.0
LOCK_TIMEOUT = 60.0
LOCK_PATH = Path(tempfile.gettempdir()) / "dualcard-virtual-reader.lock"
_POLL = 0.05


class PCSCStackUnavailable(RemoteError, RuntimeError):
    """pcscd + vpcd cannot be made available; the message says why."""


def virtual_reader_names(friendly_name: str = "Virtual PCD") -> tuple[str, str]:
    """The reader names pcsc-lite gives vpcd's two slots."""
    return f"{friendly_name} 00 00", f"{friendly_name} 00 01"


@dataclass
class PCSCStack:
    """A usable pcscd; ``process`` is set only when this module started it."""

    readers: tuple[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def owned(self) -> bool:
        """True when pcscd is our child, so we may stop or restart it."""
        return self.process is not None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None:
            return ""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def restart(self, timeout: float = READY_TIMEOUT) -> None:
        """Stop and start our pcscd (refused for a pcscd we did not start)."""
        if not self.owned:
            raise PCSCStackUnavailable("pcscd was not started by the test harness; not restarting")
        with self._lock:
            self._terminate()
            self.process = _spawn_pcscd(self.log_path)
        _wait_ready(self, timeout)

    def stop(self) -> None:
        """Stop pcscd if we started it; a no-op otherwise."""
        with self._lock:
            self._terminate()
            self.process = None

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


_stack: PCSCStack | None = None
_stack_lock = threading.Lock()


def ensure_pcsc_stack(timeout: float = READY_TIMEOUT) -> PCSCStack:
    """Return a ready pcscd + vpcd, starting pcscd if needed; raise with the reason.

    The virtual reader is one per machine, so the first call also takes an
    exclusive lock on it (:data:`LOCK_PATH`) for the rest of the process: two
    test runs or benchmarks never put cards in the same slots at once.
    The stack is remembered for the process; each call checks it still answers
    and replaces a pcscd that has gone away.
    """
    global _stack
    with _stack_lock:
        _hold_machine_lock()
        if _stack is not None:
            try:
                _wait_ready(_stack, min(timeout, 2.0))
                return _stack
            except PCSCStackUnavailable:
                _stack.stop()
                _stack = None
        _stack = _start_or_adopt(timeout)
        return _stack


_lock_file: IO[str] | None = None


def _hold_machine_lock(timeout: float = LOCK_TIMEOUT) -> None:
    """Take the machine-wide virtual-reader lock once; it is released at exit."""
    global _lock_file
    if _lock_file is not None:
        return
    handle = open(LOCK_PATH, "a+")  # noqa: SIM115 - held open for the process lifetime
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise PCSCStackUnavailable(
                    f"the virtual reader is in use by {holder} ({LOCK_PATH})"
                ) from None
            time.sleep(0.2)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    _lock_file = handle


def require_pcsc_stack(timeout: float = READY_TIMEOUT) -> PCSCStack:
    """For tests: the stack, or fail (under CI=true) / skip with the reason."""
    try:
        return ensure_pcsc_stack(timeout)
    except PCSCStackUnavailable as exc:
        skip_or_fail(f"pcscd + vpcd unavailable: {exc}")


def skip_or_fail(reason: str) -> NoReturn:
    """Fail the current test under ``CI=true`` (the stack must be there), else skip it."""
    import pytest

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def wait_for_card(
    reader: str, timeout: float = READY_TIMEOUT, *, atr: bytes | None = None
) -> bytes:
    """Wait until ``reader`` holds a card (with this ``atr``, if given); return its ATR.

    pcscd notices a vpcd card on its next presence poll, a few hundred ms at most.
    Giving the expected ATR rules out a card that is about to leave. If pcscd
    still shows another ATR, the card is reset once: a card swapped in before
    pcscd saw the slot empty keeps the old ATR until pcscd powers it again.
    """
    from host.transport.pcsc import PCSCTransport

    deadline = time.monotonic() + timeout
    problem = "no card"
    while time.monotonic() < deadline:
        transport = PCSCTransport(reader)
        try:
            transport.connect()
            found = transport.atr
            if atr is not None and found != atr:
                found = transport.reset()
        except TransportError as exc:
            problem = str(exc)
        else:
            if atr is None or found == atr:
                return found
            problem = f"card with ATR {found.hex().upper()}"
        finally:
            transport.disconnect()
        time.sleep(_POLL)
    raise PCSCStackUnavailable(f"{reader}: {problem} after {timeout:.0f} s")


def wait_for_removal(reader: str, timeout: float = READY_TIMEOUT) -> None:
    """Wait until pcscd reports ``reader`` empty (it notices on its next presence poll).

    Attaching a new card before that can leave pcscd with the old card's ATR and
    power state, because it never saw the slot empty.
    """
    from host.transport.base import NoCardError
    from host.transport.pcsc import PCSCTransport

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        transport = PCSCTransport(reader)
        try:
            transport.connect()
        except NoCardError:
            return
        except TransportError:
            pass
        finally:
            transport.disconnect()
        time.sleep(_POLL)
    raise PCSCStackUnavailable(f"{reader} still holds a card after {timeout:.0f} s")


def _start_or_adopt(timeout: float) -> PCSCStack:
    if not pyscard_installed():
        raise PCSCStackUnavailable("pyscard is not installed (pip install 'dualcard[pcsc]')")
    config = read_vpcd_config()
    if config is None or not config.library.is_file():
        raise PCSCStackUnavailable("vsmartcard-vpcd is not installed (apt-get install vsmartcard-vpcd)")
    stack = PCSCStack(readers=virtual_reader_names(config.friendly_name))
    if not pcscd_running():
        pcscd = find_pcscd()
        if pcscd is None:
            raise PCSCStackUnavailable("pcscd is not installed (apt-get install pcscd)")
        stack.log_path = Path(tempfile.mkstemp(prefix="dualcard-pcscd-", suffix=".log")[1])
        stack.process = _spawn_pcscd(stack.log_path, pcscd)
        atexit.register(stack.stop)
    _wait_ready(stack, timeout)
    return stack


def _spawn_pcscd(log_path: Path | None, binary: str | None = None) -> subprocess.Popen[bytes]:
    binary = binary or find_pcscd() or "/usr/sbin/pcscd"
    log = open(log_path or os.devnull, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            [binary, "--foreground"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise PCSCStackUnavailable(f"cannot start {binary}: {exc}") from exc
    finally:
        log.close()


def _wait_ready(stack: PCSCStack, timeout: float) -> None:
    """Wait until pcscd answers and lists both virtual slots."""
    from host.transport.pcsc import list_pcsc_readers

    deadline = time.monotonic() + timeout
    seen: list[str] = []
    problem = "pcscd did not come up"
    while time.monotonic() < deadline:
        if stack.process is not None and stack.process.poll() is not None:
            raise PCSCStackUnavailable(
                f"pcscd exited with status {stack.process.returncode} "
                f"(root is needed to start it); log:\n{stack.log_tail()}"
            )
        try:
            seen = list_pcsc_readers()
        except TransportError as exc:
            problem = str(exc)
        else:
            if all(name in seen for name in stack.readers):
                return
            problem = f"pcscd lists {seen or 'no readers'}, not {list(stack.readers)}"
        time.sleep(_POLL)
    hint = "" if stack.owned else " (a pcscd started before vpcd was installed needs a restart)"
    raise PCSCStackUnavailable(f"{problem} after {timeout:.0f} s{hint}")
