"""Where a slip goes: a file, or a network receipt printer (raw TCP, port 9100)."""

from __future__ import annotations

import socket
from pathlib import Path

from apdu_specs.errors import RemoteError

from .model import SlipError

__all__ = ["PrinterUnreachableError", "send"]

RAW_PORT = 9100


class PrinterUnreachableError(RemoteError):
    """The network printer did not take the slip (refused, unreachable, timed out)."""


def _target(spec: str) -> tuple[str, int]:
    rest = spec.removeprefix("tcp:")
    host, _, port = rest.rpartition(":")
    if not host:
        return rest, RAW_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SlipError(f"not a printer address: {spec!r} (tcp:HOST:PORT)")
    return host.strip("[]"), int(port)


def send(data: bytes, to: str, *, timeout: float = 10.0) -> str:
    """Write ``data`` to ``to`` (a path, or ``tcp:HOST[:PORT]``); where it went."""
    if not to.startswith("tcp:"):
        try:
            Path(to).write_bytes(data)
        except OSError as exc:
            raise SlipError(f"cannot write {to}: {exc.strerror}") from None
        return to
    host, port = _target(to)
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(data)
    except OSError as exc:
        raise PrinterUnreachableError(f"printer {host}:{port}: {exc.strerror or exc}") from None
    return f"tcp:{host}:{port}"
