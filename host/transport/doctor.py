"""Environment probes for the PC/SC tier, and ``dualcard doctor``'s checks.

Everything here only looks: no probe starts a service or connects to a vpcd
port (a stray connection there would read as a card being inserted).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from host.transport.base import TransportError

__all__ = [
    "PCSCD_SOCKET",
    "VPCD_CONFIG",
    "Check",
    "PortState",
    "VPCDConfig",
    "doctor_checks",
    "find_pcscd",
    "pcscd_running",
    "pyscard_installed",
    "read_vpcd_config",
    "tcp_port_state",
]

VPCD_CONFIG = Path("/etc/reader.conf.d/vpcd")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
_DEFAULT_VPCD_PORT = 0x8C7B
_DEFAULT_VPCD_NAME = "Virtual PCD"
_VPCD_SLOTS = 2
_TCP_LISTEN, _TCP_ESTABLISHED = "0A", "01"


@dataclass(frozen=True, slots=True)
class Check:
    """One doctor finding: what was checked, whether it passed, how to fix it."""

    name: str
    ok: bool
    detail: str
    fix_hint: str = ""


@dataclass(frozen=True, slots=True)
class VPCDConfig:
    """What pcscd's reader.conf entry for vpcd says."""

    friendly_name: str
    library: Path
    base_port: int


@dataclass(frozen=True, slots=True)
class PortState:
    """A local TCP port as the kernel reports it."""

    listening: bool
    connections: int


def pyscard_installed() -> bool:
    return importlib.util.find_spec("smartcard") is not None


def find_pcscd() -> str | None:
    """Path of the pcscd binary (usually /usr/sbin, which may not be on PATH)."""
    found = shutil.which("pcscd")
    if found:
        return found
    return "/usr/sbin/pcscd" if os.access("/usr/sbin/pcscd", os.X_OK) else None


def read_vpcd_config(path: Path = VPCD_CONFIG) -> VPCDConfig | None:
    """Parse vpcd's reader.conf entry; None when vpcd is not installed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and not key.startswith("#"):
            fields[key.upper()] = value.strip().strip('"')
    try:
        port = int(fields.get("CHANNELID", str(_DEFAULT_VPCD_PORT)), 0)
    except ValueError:
        port = _DEFAULT_VPCD_PORT
    return VPCDConfig(
        friendly_name=fields.get("FRIENDLYNAME", _DEFAULT_VPCD_NAME),
        library=Path(fields.get("LIBPATH", "")),
        base_port=port,
    )


def pcscd_socket() -> Path:
    """Where pcsc-lite clients look for the daemon (PCSCLITE_CSOCK_NAME overrides)."""
    return Path(os.environ.get("PCSCLITE_CSOCK_NAME", str(PCSCD_SOCKET)))


def pcscd_running() -> bool:
    """True when something accepts connections on pcscd's client socket."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(pcscd_socket()))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def tcp_port_state(port: int, proc_net: Path = Path("/proc/net")) -> PortState | None:
    """Listening flag and established-connection count of a local port (Linux)."""
    tables = [proc_net / "tcp", proc_net / "tcp6"]
    listening, connections, seen = False, 0, False
    for table in tables:
        try:
            lines = table.read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        seen = True
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or not fields[1].endswith(f":{port:04X}"):
                continue
            if fields[3] == _TCP_LISTEN:
                listening = True
            elif fields[3] == _TCP_ESTABLISHED:
                connections += 1
    return PortState(listening, connections) if seen else None


def doctor_checks(list_readers: Callable[[], Sequence[str]] | None = None) -> list[Check]:
    """Everything QA needs for the virtual reader, in the order to fix it."""
    checks = [
        Check("pyscard", pyscard_installed(),
              "importable" if pyscard_installed() else "not installed",
              "pip install 'dualcard[pcsc]' (needs libpcsclite-dev and swig to build)"),
    ]
    pcscd = find_pcscd()
    checks.append(Check("pcscd installed", pcscd is not None, pcscd or "not found",
                        "apt-get install pcscd"))
    config = read_vpcd_config()
    driver_ok = config is not None and config.library.is_file()
    checks.append(Check(
        "vpcd driver", driver_ok,
        f"{VPCD_CONFIG} -> {config.library}" if config else f"{VPCD_CONFIG} missing",
        "apt-get install vsmartcard-vpcd, then restart pcscd",
    ))
    running = pcscd_running()
    checks.append(Check(
        "pcscd running", running,
        f"listening on {pcscd_socket()}" if running else f"nothing on {pcscd_socket()}",
        "start it: pcscd --foreground & (as root), or systemctl start pcscd.socket",
    ))
    if running and (list_readers is not None or pyscard_installed()):
        checks.append(_readers_check(list_readers, config))
    if running and config is not None:
        checks.extend(_slot_checks(config))
    return checks


def _readers_check(
    list_readers: Callable[[], Sequence[str]] | None, config: VPCDConfig | None
) -> Check:
    name = config.friendly_name if config else _DEFAULT_VPCD_NAME
    if list_readers is None:
        from host.transport.pcsc import list_pcsc_readers

        list_readers = list_pcsc_readers
    try:
        readers = list(list_readers())
    except TransportError as exc:
        return Check("virtual readers", False, str(exc), "restart pcscd")
    virtual = [r for r in readers if r.startswith(name)]
    detail = ", ".join(readers) if readers else "pcscd lists no reader"
    return Check("virtual readers", bool(virtual), detail,
                 "pcscd started before vpcd was installed: restart pcscd")


def _slot_checks(config: VPCDConfig) -> list[Check]:
    checks = []
    for slot in range(_VPCD_SLOTS):
        port = config.base_port + slot
        state = tcp_port_state(port)
        if state is None:
            continue
        if not state.listening:
            detail = f"nothing listens on TCP {port}"
        elif state.connections:
            detail = f"TCP {port}: a card is attached ({state.connections} connection(s))"
        else:
            detail = f"TCP {port}: free, waiting for a card"
        checks.append(Check(f"vpcd slot {slot}", state.listening, detail,
                            "pcscd has not loaded vpcd: restart pcscd"))
    return checks
