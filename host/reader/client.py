"""The binding commands from the host side, built from their specs, one method each.

Personal mode closes the transaction commands, not READ RECORD: a reader or an issuer
finds the card's PAN and PSN in the records of SFI 1 without GET PROCESSING OPTIONS
(:meth:`BindingClient.identity`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from apdu_specs.apdu import ResponseAPDU
from apdu_specs.commands.binding import READER_AUTHENTICATE, READER_CONFIRM
from apdu_specs.commands.iso7816 import GET_CHALLENGE
from apdu_specs.payment.binding import BINDING_STATUS_TAG, CHALLENGE_LENGTH, BindingStatus
from apdu_specs.sw import SW, CardError, check
from apdu_specs.tlv import parse_tlvs
from host.payment.client import PaymentClient
from host.payment.errors import CardDataError
from host.transport.base import Transport

from .errors import CardNotBoundHereError

__all__ = ["BindingClient", "CardIdentity"]

_RECORDS_SFI = 1
_MAX_RECORDS = 16


@dataclass(frozen=True)
class CardIdentity:
    """What names a bound application: its PAN and PSN (the issuer derives its keys from them)."""

    pan: str
    psn: str

    @property
    def card_id(self) -> str:
        return self.pan

    @property
    def masked(self) -> str:
        return self.pan[:6] + "*" * (len(self.pan) - 10) + self.pan[-4:]


class BindingClient:
    def __init__(self, transport: Transport, random: Callable[[int], bytes] = os.urandom) -> None:
        self.payment = PaymentClient(transport)
        self.transport = transport
        self.random = random

    def select(self, aid: bytes) -> None:
        self.payment.select_application(aid)

    def identity(self) -> CardIdentity:
        """PAN and PSN from the records of SFI 1 (read until the card has no more)."""
        objects: dict[int, bytes] = {}
        for number in range(1, _MAX_RECORDS + 1):
            resp = self._send_spec(
                bytes([0x00, 0xB2, number, _RECORDS_SFI << 3 | 4, 0x00]), "READ RECORD",
                (SW.OK, SW.RECORD_NOT_FOUND))
            if resp.sw != SW.OK:
                break
            for template in parse_tlvs(resp.data):
                for obj in template.children:
                    objects.setdefault(obj.tag, obj.value)
        if 0x5A not in objects:
            raise CardDataError("the card's records of SFI 1 hold no PAN (5A)")
        psn = objects.get(0x5F34, b"\x00")
        return CardIdentity(objects[0x5A].hex().upper().rstrip("F"), psn.hex()[:2])

    def status(self) -> BindingStatus:
        value = self.payment.get_data(BINDING_STATUS_TAG)
        if value is None:
            raise CardDataError("the application knows no reader binding (no DF30)")
        return BindingStatus.decode(value)

    def get_challenge(self) -> bytes:
        resp = self._send_spec(GET_CHALLENGE.build(ne=CHALLENGE_LENGTH).encode(), GET_CHALLENGE.name)
        if len(resp.data) != CHALLENGE_LENGTH:
            raise CardDataError(f"the card's challenge has {len(resp.data)} bytes")
        return resp.data

    def send_issuer_command(self, command: bytes, name: str) -> None:
        """BIND or UNBIND as the issuer built it; CardError names a refusal."""
        self._send_spec(command, name)

    def authenticate(self, reader_id: bytes, reader_nonce: bytes) -> tuple[bytes, bytes]:
        """READER AUTHENTICATE: (card nonce, card cryptogram); 6A88 is not-bound-here."""
        command = READER_AUTHENTICATE.build(data={"reader_id": reader_id,
                                                  "reader_nonce": reader_nonce})
        try:
            resp = self._send_spec(command.encode(), READER_AUTHENTICATE.name)
        except CardError as exc:
            if exc.sw == SW.REFERENCED_DATA_NOT_FOUND:
                raise CardNotBoundHereError("the card is not bound to this reader "
                                            "(6A88)") from None
            raise
        answer = READER_AUTHENTICATE.parse_response(resp.data)
        return answer["card_nonce"], answer["card_proof"]

    def confirm(self, reader_proof: bytes) -> int:
        """READER CONFIRM: the status word (9000, or 6300 for a wrong cryptogram)."""
        command = READER_CONFIRM.build(data={"reader_proof": reader_proof}).encode()
        return self._send_spec(command, READER_CONFIRM.name, (SW.OK, SW.NVM_CHANGED)).sw

    def _send_spec(self, command: bytes, name: str,
                   expect: tuple[int, ...] = (SW.OK,)) -> ResponseAPDU:
        resp = ResponseAPDU.parse(self.transport.transmit(command))
        check(resp.sw, command=name, expect=expect, data=resp.data)
        return resp
