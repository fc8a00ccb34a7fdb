"""The personal reader binding of chip 1's payment application: every byte both sides compute.

Binding (issuer → card). The issuer's command carries the reader's identity and the
binding key, the key enciphered and the command MACed under session keys the card
derives from its own SMC/SMI master keys with ``R = card challenge`` (GET CHALLENGE,
kept in RAM and spent by the next binding command). The MAC covers
``CLA INS P1 P2 Lc ‖ binding counter ‖ card challenge ‖ data``: the same MAC and
encipherment as an issuer script (:class:`~apdu_specs.payment.cryptogram.CryptogramVersion`),
with the binding counter in the ATC's place and the challenge in the ARQC's. A
recorded binding command is useless: the challenge is fresh and spent, the counter
moves with every bind and unbind.

Mutual authentication (reader ↔ card), both under the binding key ``KB``:

- READER AUTHENTICATE: reader id ‖ reader nonce ``RN`` → card nonce ``CN`` ‖
  ``MAC_KB("CARD" ‖ reader id ‖ RN ‖ CN)``: the card proves it holds ``KB``.
- READER CONFIRM: ``MAC_KB("READ" ‖ reader id ‖ CN ‖ RN)``: the reader proves it.

The MAC is the version's (AES-CMAC cut to 8 bytes, or ISO 9797-1 algorithm 3 for
3DES); the two labels keep the card's proof from ever answering as the reader's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..crypto.ciphers import Algorithm
from ..crypto.errors import MACError
from ..crypto.mac import check_mac, cmac, retail_mac
from .cryptogram import CryptogramVersion, version_for
from .errors import PaymentFormatError

__all__ = ["BINDING_STATUS_TAG", "CHALLENGE_LENGTH", "NONCE_LENGTH", "PROOF_LENGTH",
           "READER_ID_LENGTH", "BindingStatus", "card_proof", "reader_proof",
           "verify_card_proof", "verify_reader_proof"]

READER_ID_LENGTH = 8
NONCE_LENGTH = 8
CHALLENGE_LENGTH = 8
PROOF_LENGTH = 8
#: GET DATA tag of the binding status
BINDING_STATUS_TAG = 0xDF30
_CARD_LABEL = b"CARD"
_READER_LABEL = b"READ"


def _mac(version: CryptogramVersion, key: bytes, message: bytes) -> bytes:
    if version.algorithm is Algorithm.TDES:
        return retail_mac(key, message)
    return cmac(version.algorithm, key, message)[:PROOF_LENGTH]


def _check(reader_id: bytes, first: bytes, second: bytes) -> None:
    if len(reader_id) != READER_ID_LENGTH or len(first) != NONCE_LENGTH or len(second) != NONCE_LENGTH:
        raise PaymentFormatError(f"a reader id and each nonce have {NONCE_LENGTH} bytes")


def card_proof(version: CryptogramVersion, key: bytes, reader_id: bytes,
               reader_nonce: bytes, card_nonce: bytes) -> bytes:
    """The card's cryptogram: it holds ``key`` and answers this reader's fresh nonce."""
    _check(reader_id, reader_nonce, card_nonce)
    return _mac(version, key, _CARD_LABEL + reader_id + reader_nonce + card_nonce)


def reader_proof(version: CryptogramVersion, key: bytes, reader_id: bytes,
                 card_nonce: bytes, reader_nonce: bytes) -> bytes:
    """The reader's cryptogram: it holds ``key`` and answers the card's fresh nonce."""
    _check(reader_id, card_nonce, reader_nonce)
    return _mac(version, key, _READER_LABEL + reader_id + card_nonce + reader_nonce)


def verify_card_proof(version: CryptogramVersion, key: bytes, reader_id: bytes,
                      reader_nonce: bytes, card_nonce: bytes, proof: bytes) -> None:
    """Reader side: raise :class:`MACError` unless the card proved itself."""
    expected = card_proof(version, key, reader_id, reader_nonce, card_nonce)
    check_mac(expected, proof, what="card cryptogram", error=MACError)


def verify_reader_proof(version: CryptogramVersion, key: bytes, reader_id: bytes,
                        card_nonce: bytes, reader_nonce: bytes, proof: bytes) -> None:
    """Card side: raise :class:`MACError` unless the reader proved itself."""
    expected = reader_proof(version, key, reader_id, card_nonce, reader_nonce)
    check_mac(expected, proof, what="reader cryptogram", error=MACError)


@dataclass(frozen=True)
class BindingStatus:
    """GET DATA DF30: ``bound (1) ‖ binding counter (2) ‖ CVN (1) ‖ reader id (8)``.

    The reader id is all zeros while unbound; the counter counts binds and unbinds
    (the issuer MACs its next binding command over it).
    """

    bound: bool
    counter: int
    cvn: int
    reader_id: bytes = bytes(READER_ID_LENGTH)

    LENGTH = 4 + READER_ID_LENGTH

    @property
    def version(self) -> CryptogramVersion:
        return version_for(self.cvn)

    def encode(self) -> bytes:
        return (bytes([int(self.bound)]) + self.counter.to_bytes(2, "big") + bytes([self.cvn])
                + self.reader_id)

    @classmethod
    def decode(cls, data: bytes) -> BindingStatus:
        if len(data) != cls.LENGTH or data[0] not in (0, 1):
            raise PaymentFormatError(f"a binding status has {cls.LENGTH} bytes, the first 00 or 01")
        return cls(bool(data[0]), int.from_bytes(data[1:3], "big"), data[3], bytes(data[4:]))
