"""Makes pcscd with the vpcd driver available, and lends its virtual reader to one user at a time.

:func:`ensure_pcsc_stack` (tests, benchmarks) and :func:`start_pcscd` (``dualcard sim serve
--start-pcscd``, ``make vpcd``) use a running pcscd as it is; otherwise they start
``pcscd --foreground`` in a session of its own (it needs root to create /run/pcscd),
logging to :data:`PCSCD_LOG`, and leave it running as a system service would be: the
next test run, a guide's command and a benchmark all find it. Its pid goes to
:data:`PCSCD_PID`, so that tests may restart the pcscd dualcard started — and never one
it did not. The stack is ready when pcscd lists both ``Virtual PCD`` slots.

vpcd listens on fixed ports, so there is one virtual reader per machine: whoever puts a
card in it holds :func:`virtual_reader_lock` (a file lock every process agrees on) for as
long as the card is there. :func:`require_pcsc_stack` is what a test calls: a missing
package or a pcscd that will not start makes the test fail under ``CI=true`` (CI installs
the stack, so its absence is a bug) and skip with the reason elsewhere.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

from apdu_specs.errors import RemoteError
from host.transport.base import TransportError
from host.transport.doctor import find_pcscd, pcscd_running, pyscard_installed, read_vpcd_config

__all__ = [
    "LOCK_PATH",
    "PCSCD_LOG",
    "PCSCD_PID",
    "PCSCStack",
    "PCSCStackUnavailable",
    "check_pcsc_stack",
    "ensure_pcsc_stack",
    "require_pcsc_stack",
    "skip_or_fail",
    "start_pcscd",
    "virtual_reader",
    "virtual_reader_lock",
    "virtual_reader_names",
    "wait_for_card",
    "wait_for_removal",
]

READY_TIMEOUT = 15.0
#: how long a user of the virtual reader waits for the one before it
LOCK_TIMEOUT = 300.0
LOCK_PATH = Path(os.environ.get("DUALCARD_VPCD_LOCK",
                                Path(tempfile.gettempdir()) / "dualcard-vpcd.lock"))
#: where the pcscd dualcard starts logs, and its pid (it outlives the process starting it)
PCSCD_LOG = Path(tempfile.gettempdir()) / "dualcard-pcscd.log"
PCSCD_PID = Path(tempfile.gettempdir()) / "dualcard-pcscd.pid"
_POLL = 0.05
#: the pcscd processes started here, kept so that they are never garbage-collected
_started: list[subprocess.Popen[bytes]] = []


class PCSCStackUnavailable(RemoteError, RuntimeError):
    """pcscd + vpcd cannot be made available; the message says why."""


def virtual_reader_names(friendly_name: str = "Virtual PCD") -> tuple[str, str]:
    """The reader names pcsc-lite gives vpcd's two slots."""
    return f"{friendly_name} 00 00", f"{friendly_name} 00 01"


@dataclass
class PCSCStack:
    """A usable pcscd; ``pid`` is set only when dualcard started it (see :data:`PCSCD_PID`)."""

    readers: tuple[str, str]
    pid: int | None = None
    log_path: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def owned(self) -> bool:
        """True when dualcard started this pcscd, so a test may stop or restart it."""
        return self.pid is not None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None:
            return ""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def restart(self, timeout: float = READY_TIMEOUT) -> None:
        """Stop and start the pcscd dualcard started (refused for any other)."""
        if self.owned:  # another process may have restarted it since
            self.pid = _started_by_dualcard()
        if not self.owned:
            raise PCSCStackUnavailable("pcscd was not started by dualcard; not restarting")
        with self._lock:
            self._terminate()
            self.pid = _spawn_pcscd(timeout)

    def stop(self) -> None:
        """Stop pcscd if dualcard started it; a no-op otherwise."""
        with self._lock:
            self._terminate()
            self.pid = None

    def _terminate(self) -> None:
        if self.pid is None or not _is_pcscd(self.pid):
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _is_pcscd(self.pid) and time.monotonic() < deadline:
            time.sleep(_POLL)
        if _is_pcscd(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        for process in _started:
            if process.pid == self.pid:
                process.wait(timeout=5)


_stack: PCSCStack | None = None
_stack_lock = threading.Lock()


def ensure_pcsc_stack(timeout: float = READY_TIMEOUT) -> PCSCStack:
    """Return a ready pcscd + vpcd, starting pcscd if needed; raise with the reason.

    The stack is remembered for the process; each call checks it still answers and
    replaces a pcscd that has gone away. Putting a card in the reader is a separate step,
    under :func:`virtual_reader_lock`.
    """
    global _stack
    with _stack_lock:
        if _stack is not None:
            try:
                _wait_ready(_stack, min(timeout, 2.0))
                _stack.pid = _started_by_dualcard()  # it may have been restarted meanwhile
                return _stack
            except PCSCStackUnavailable:
                _stack.stop()
                _stack = None
        _stack, _ = start_pcscd(timeout)
        return _stack


def start_pcscd(timeout: float = READY_TIMEOUT) -> tuple[PCSCStack, bool]:
    """pcscd for any PC/SC program: started if it is not running, and left running.

    Returns the stack and whether pcscd was started now.
    """
    stack = PCSCStack(readers=_installed_readers(), log_path=PCSCD_LOG)
    started = not pcscd_running()
    if started:
        _check_startable()
        stack.pid = _spawn_pcscd(timeout)
    else:
        stack.pid = _started_by_dualcard()
        _wait_ready(stack, timeout)
    return stack, started


_reader_lock = threading.RLock()
_reader_depth = 0


@contextmanager
def virtual_reader_lock(timeout: float = LOCK_TIMEOUT, *, settle: bool = True) -> Iterator[None]:
    """Hold the machine-wide virtual reader for as long as a card is in it.

    Waits for whoever has it (another test run, a benchmark) up to ``timeout`` seconds,
    then (``settle``) until pcscd has seen its slots empty: the card of the one before
    may have gone a moment ago, and a card put in before pcscd notices would be taken
    for the old one (docs/virtual-reader.md §4). Re-entrant within a process, so a
    fixture and the test using it may both ask.
    """
    global _reader_depth
    if not _reader_lock.acquire(timeout=timeout):
        raise PCSCStackUnavailable(f"another thread kept the virtual reader for {timeout:.0f} s")
    try:
        handle = _lock_file(timeout) if _reader_depth == 0 else None
        if handle is not None and settle:
            _wait_until_empty()
        _reader_depth += 1
        try:
            yield
        finally:
            _reader_depth -= 1
            if handle is not None:
                handle.close()  # closing the file releases the lock
    finally:
        _reader_lock.release()


def _wait_until_empty() -> None:
    """Wait (a while) until pcscd reports both virtual slots empty, if it runs at all; a
    card still there after that (a ``dualcard sim serve`` left running) is the holder's
    problem, reported by its own waits."""
    try:
        readers = _installed_readers()
    except PCSCStackUnavailable:
        return
    if not pcscd_running():
        return
    for reader in readers:
        try:
            wait_for_removal(reader)
        except (PCSCStackUnavailable, TransportError):
            return


def _lock_file(timeout: float) -> IO[str]:
    """The open, locked lock file (closing it releases the lock)."""
    handle = open(LOCK_PATH, "a+")  # noqa: SIM115 - the caller closes it to release the lock
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
                    f"the virtual reader stayed in use by {holder} for {timeout:.0f} s "
                    f"({LOCK_PATH})") from None
            time.sleep(0.2)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def require_pcsc_stack(timeout: float = READY_TIMEOUT) -> PCSCStack:
    """For tests: the stack, or fail (under CI=true) / skip with the reason."""
    try:
        return ensure_pcsc_stack(timeout)
    except PCSCStackUnavailable as exc:
        skip_or_fail(f"pcscd + vpcd unavailable: {exc}")


@contextmanager
def virtual_reader(timeout: float = READY_TIMEOUT) -> Iterator[PCSCStack]:
    """For tests: the virtual reader, held (:func:`virtual_reader_lock`), its pcscd ready."""
    with virtual_reader_lock():
        yield require_pcsc_stack(timeout)


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


def _installed_readers() -> tuple[str, str]:
    """The virtual slots' names, once pyscard and vpcd are known to be installed."""
    if not pyscard_installed():
        raise PCSCStackUnavailable("pyscard is not installed (pip install 'dualcard[pcsc]')")
    config = read_vpcd_config()
    if config is None or not config.library.is_file():
        raise PCSCStackUnavailable("vsmartcard-vpcd is not installed (apt-get install vsmartcard-vpcd)")
    return virtual_reader_names(config.friendly_name)


def check_pcsc_stack() -> None:
    """Raise with the reason unless pcscd + vpcd are installed and pcscd runs or can be
    started here (nothing is started)."""
    _installed_readers()
    if not pcscd_running():
        _check_startable()


def _check_startable() -> None:
    if find_pcscd() is None:
        raise PCSCStackUnavailable("pcscd is not installed (apt-get install pcscd)")
    if os.geteuid() != 0:
        raise PCSCStackUnavailable("pcscd is not running, and only root can start it")


def _is_pcscd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "pcscd"
    except OSError:
        return False


def _started_by_dualcard() -> int | None:
    """The pid of the running pcscd if dualcard started it (its pid file says so)."""
    try:
        pid = int(PCSCD_PID.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_pcscd(pid) else None


def _spawn_pcscd(timeout: float) -> int | None:
    """Start pcscd in a session of its own, record its pid, wait until it is ready."""
    binary = find_pcscd() or "/usr/sbin/pcscd"
    with open(PCSCD_LOG, "ab") as log:
        try:
            process = subprocess.Popen([binary, "--foreground"], stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        except OSError as exc:
            raise PCSCStackUnavailable(f"cannot start {binary}: {exc}") from exc
    _started.append(process)
    stack = PCSCStack(readers=_installed_readers(), log_path=PCSCD_LOG)
    _wait_ready(stack, timeout, process)
    if process.poll() is not None:  # another process's pcscd came up first; it is the one
        return _started_by_dualcard()
    PCSCD_PID.write_text(f"{process.pid}\n")
    return process.pid


def _wait_ready(stack: PCSCStack, timeout: float,
                process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until pcscd answers and lists both virtual slots (``process``: a pcscd just
    started, whose early exit is reported with its log)."""
    from host.transport.pcsc import list_pcsc_readers

    deadline = time.monotonic() + timeout
    seen: list[str] = []
    problem = "pcscd did not come up"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None and not pcscd_running():
            raise PCSCStackUnavailable(
                f"pcscd exited with status {process.returncode} "
                f"(root is needed to start it); log:\n{stack.log_tail()}")
        try:
            seen = list_pcsc_readers()
        except TransportError as exc:
            problem = str(exc)
        else:
            if all(name in seen for name in stack.readers):
                return
            problem = f"pcscd lists {seen or 'no readers'}, not {list(stack.readers)}"
        time.sleep(_POLL)
    hint = "" if process else " (a pcscd started before vpcd was installed needs a restart)"
    raise PCSCStackUnavailable(f"{problem} after {timeout:.0f} s{hint}")


def main() -> int:
    """``python -m host.testing.pcscd`` (``make vpcd``): pcscd with vpcd, running for good."""
    try:
        stack, started = start_pcscd()
    except PCSCStackUnavailable as exc:
        print(f"pcscd + vpcd unavailable: {exc}")
        return 1
    how = f"started (log {PCSCD_LOG})" if started else "already running"
    print(f"pcscd {how}; virtual reader slots: {', '.join(stack.readers)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
