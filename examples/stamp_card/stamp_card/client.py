"""The host side: a typed client that builds every APDU from the specs.

It only needs a transport, so the same code talks to a simulated chip, the virtual
reader or a real card in a real reader.
"""

from __future__ import annotations

from typing import Any

from apdu_specs.apdu import CommandAPDU
from apdu_specs.commands.spec import CommandSpec
from apdu_specs.sw import check
from host.transport.base import Transport

from .specs import AID, READ, REDEEM, STAMP

__all__ = ["StampClient"]


class StampClient:
    def __init__(self, transport: Transport, aid: bytes = AID) -> None:
        self.transport = transport
        self.aid = aid

    def select(self) -> None:
        select = CommandAPDU(0x00, 0xA4, 0x04, 0x00, self.aid, 256)
        response = self.transport.transmit(select.encode())
        check(int.from_bytes(response[-2:], "big"), command="SELECT stamp card")

    def stamp(self, merchant: bytes) -> int:
        return self._send(STAMP, data={"merchant": merchant})["stamps"]

    def read(self) -> tuple[int, int]:
        fields = self._send(READ)
        return fields["stamps"], fields["redeemed"]

    def redeem(self) -> int:
        return self._send(REDEEM)["redeemed"]

    def _send(self, spec: CommandSpec, **fields: Any) -> dict[str, Any]:
        response = self.transport.transmit(spec.build(fields).encode())
        check(int.from_bytes(response[-2:], "big"), command=spec.name)
        return spec.parse_response(response[:-2])
