"""What a security domain tells about its card: CPLC, KDD, IIN, CIN.

A simulated card derives them from its card identity and chip role, so every card has
its own serial number (and KDD, so diversified keys differ per card) and the same card
always gets the same values. Layout choices (dualcard):

- CPLC: IC fabricator ``D0C1``, IC type ``0001``/``0002`` (chip 1/2), OS id ``DC01``,
  IC serial number = the first 4 bytes of SHA-256(identity "/" role), batch ``0001``;
- KDD (10 bytes, the INITIALIZE UPDATE prefix that key diversification uses):
  fabricator(2) ‖ IC type(2) ‖ serial(4) ‖ batch(2) — so the EMV scheme's KDD[4..9] and
  the VISA2 scheme's KDD[0..1]‖KDD[4..7] both contain the serial number;
- CIN (tag 45): ``DC`` followed by the first 7 bytes of that SHA-256; IIN (tag 42) only
  when the issuer sets one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from apdu_specs.caches import pure_cache
from apdu_specs.commands.gp_extra import CPLC_FIELDS, CPLC_LENGTH, build_cplc, parse_cplc

__all__ = ["CardIdentity"]

_FABRICATOR = bytes.fromhex("D0C1")
_OS_ID = bytes.fromhex("DC01")
_BATCH = bytes.fromhex("0001")
_CPLC_HEADER = b"\x9f\x7f\x2a"
#: where the IC serial number sits in the CPLC
_SERIAL_AT = sum(n for _, n in CPLC_FIELDS[:[name for name, _ in CPLC_FIELDS].index(
    "ic_serial_number")])


@pure_cache(maxsize=8)
def _cplc_around_serial(ic_type: bytes) -> tuple[bytes, bytes]:
    """The CPLC of a chip type before and after its serial number: every chip of the type
    shares them, so a card's CPLC is built once per type and only the serial spliced in."""
    cplc = build_cplc({
        "ic_fabricator": _FABRICATOR, "ic_type": ic_type, "os_id": _OS_ID,
        "os_release_date": bytes.fromhex("6001"), "os_release_level": bytes.fromhex("0100"),
        "ic_serial_number": bytes(4), "ic_batch_identifier": _BATCH,
    })
    return cplc[:_SERIAL_AT], cplc[_SERIAL_AT + 4:]


@dataclass(frozen=True)
class CardIdentity:
    cplc: bytes
    kdd: bytes
    iin: bytes | None = None
    cin: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.kdd) != 10:
            raise ValueError(f"KDD must be 10 bytes, got {len(self.kdd)}")
        cplc = self.cplc
        # validates the length (parse_cplc would take the 42 plain bytes as they are)
        if type(cplc) is not bytes or len(cplc) != CPLC_LENGTH or cplc[:3] == _CPLC_HEADER:
            parse_cplc(cplc)

    @classmethod
    def derive(cls, card_identity: str, chip_role: str, *, iin: bytes | None = None,
               cin: bytes | None = None) -> CardIdentity:
        digest = hashlib.sha256(f"{card_identity}/{chip_role}".encode()).digest()
        ic_type = b"\x00\x02" if chip_role == "chip2" else b"\x00\x01"
        serial = digest[:4]
        head, tail = _cplc_around_serial(ic_type)
        cplc = head + serial + tail
        kdd = _FABRICATOR + ic_type + serial + _BATCH
        return cls(cplc, kdd, iin, b"\xdc" + digest[:7] if cin is None else cin)

    def to_value(self) -> tuple[Any, ...]:
        return (self.cplc, self.kdd, self.iin, self.cin)

    @classmethod
    def from_value(cls, value: tuple[Any, ...]) -> CardIdentity:
        if cls is CardIdentity:
            return _identity_of(value)
        cplc, kdd, iin, cin = value
        return cls(cplc, kdd, iin, cin)


@pure_cache(maxsize=256)
def _identity_of(value: tuple[Any, ...]) -> CardIdentity:
    """Decoded once per stored (immutable) value; the identity is frozen too."""
    cplc, kdd, iin, cin = value
    return CardIdentity(cplc, kdd, iin, cin)
