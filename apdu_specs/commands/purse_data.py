"""Chip 2 points purse: the data both sides share — purses, AIDs, files, DGIs and records.

The command specs in :mod:`apdu_specs.commands.purse` use these layouts; the card applet
(``cardlib.purse``) parses and builds the same bytes as the host client and the
personalisation code (``host.points``), so the two sides cannot disagree about a format.

Everything here is the project's own definition modelled on the PBOC electronic purse
(domain-facts §5); ``docs/decisions-purse.md`` records each choice and why.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from enum import IntEnum

from construct import (
    Bytes,
    Construct,
    ConstructError,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Struct,
)

from ..caches import pure_cache
from ..crypto.ciphers import Algorithm
from ..crypto.purse import PurseScheme
from ..errors import SpecError, TLVError
from ..tlv import TLV, find, parse_tlvs
from ._fast_layout import fast_layout
from .spec import to_plain

__all__ = [
    "APPLICATION_DGI",
    "DGI",
    "IDENTITY_LENGTH",
    "KEY_DGI",
    "KEY_LENGTH",
    "LOG_CAPACITY",
    "LOG_RECORD",
    "LOG_RECORD_LENGTH",
    "OPTION_PIN_FOR_PURCHASE",
    "PIN_DGI",
    "PURSE_AID",
    "PURSE_DGI",
    "PURSE_LOAD_FILE_AID",
    "PURSE_MODULE_AID",
    "TAC_KEY_DGI",
    "KeyKind",
    "Purse",
    "PurseFCI",
    "TransactionType",
    "algorithm_for_id",
    "build_fci",
    "build_layout",
    "decode_identity",
    "encode_identity",
    "encode_pin",
    "key_dgi",
    "parse_fci",
    "parse_layout",
    "parse_transaction_time",
    "purse_dgi",
]

# --- identifiers -----------------------------------------------------------------------

#: load file, module and instance AIDs under the project's proprietary F0 RID
PURSE_LOAD_FILE_AID = bytes.fromhex("F000000002")
PURSE_MODULE_AID = bytes.fromhex("F00000000201")
PURSE_AID = bytes.fromhex("F0000000020101")

#: the first purse's log file; purse n keeps its log in SFI 0x18 + n - 1
LOG_SFI_BASE = 0x18
#: movements each purse's cyclic log keeps (record 1 is the most recent)
LOG_CAPACITY = 10
#: every purse key (DLK, DPK, DTK) is 16 bytes in every suite
KEY_LENGTH = 16
#: the card identity: up to 19 decimal digits, packed BCD, padded with F
IDENTITY_LENGTH = 10


class Purse(IntEnum):
    """The three purses of chip 2; the value is the P2 of GET BALANCE and INITIALIZE."""

    CONSUMPTION = 0x01  #: points awarded by merchants and enterprises
    BANK = 0x02  #: points earned by paying with the bank (debit) card
    CREDIT = 0x03  #: points earned with the credit card

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def log_sfi(self) -> int:
        return LOG_SFI_BASE + self.value - 1

    @property
    def log_reference(self) -> int:
        """P2 of READ RECORD for this purse's log: ``(SFI << 3) | 04``."""
        return (self.log_sfi << 3) | 0x04

    @classmethod
    def from_log_reference(cls, p2: int) -> Purse:
        for purse in cls:
            if purse.log_reference == p2:
                return purse
        raise SpecError(f"P2 {p2:02X} names no purse log", 0x6A82)

    @classmethod
    def named(cls, text: str | int) -> Purse:
        """A purse by label (``consumption``, ``bank``, ``credit``) or number (1–3)."""
        if isinstance(text, int) and not isinstance(text, bool):
            if text in cls._value2member_map_:
                return cls(text)
        elif isinstance(text, str):
            key = text.strip().lower()
            for purse in cls:
                if key in (purse.label, str(purse.value), f"{purse.value:02d}"):
                    return purse
        names = ", ".join(p.label for p in cls)
        raise SpecError(f"no purse {text!r} (known: {names}, or 1-3)")


class TransactionType(IntEnum):
    """Transaction type identifiers (domain-facts §5.5) covered by the MACs and the TAC."""

    LOAD = 0x02  #: electronic-purse load, confirmed on a card log
    PURCHASE = 0x06  #: electronic-purse purchase


def algorithm_for_id(algorithm_id: int) -> Algorithm:
    """The suite behind an algorithm ID byte (00 3DES, 04 SM4, 80 AES)."""
    algorithm = _ALGORITHM_IDS.get(algorithm_id) if type(algorithm_id) is int else None
    if algorithm is not None:
        return algorithm
    for algorithm in (Algorithm.TDES, Algorithm.SM4, Algorithm.AES):
        if PurseScheme(algorithm).algorithm_id == algorithm_id:
            return algorithm
    raise SpecError(f"unknown purse algorithm ID {algorithm_id:02X}")


#: the same answers, looked up (the schemes never change)
_ALGORITHM_IDS = {PurseScheme(algorithm).algorithm_id: algorithm
                  for algorithm in (Algorithm.AES, Algorithm.SM4, Algorithm.TDES)}


# --- codecs ----------------------------------------------------------------------------


def encode_identity(identity: str) -> bytes:
    """The card identity (8 to 19 digits) as 10 bytes of BCD padded with F."""
    if not isinstance(identity, str) or not identity.isdigit() or not identity.isascii() \
            or not 8 <= len(identity) <= 19:
        raise SpecError(f"a card identity is 8 to 19 decimal digits, got {identity!r}")
    return bytes.fromhex(identity.ljust(2 * IDENTITY_LENGTH, "F"))


def decode_identity(raw: bytes) -> str:
    """Inverse of :func:`encode_identity`; :class:`SpecError` on anything else."""
    text = bytes(raw).hex().upper().rstrip("F")
    if len(raw) != IDENTITY_LENGTH or not text.isdigit() or not 8 <= len(text) <= 19:
        raise SpecError(f"malformed card identity {bytes(raw).hex().upper()}")
    return text


def encode_pin(digits: str) -> bytes:
    """A 4- to 12-digit PIN as BCD (F-padded when the count is odd), as VERIFY carries it."""
    if not isinstance(digits, str) or not digits.isdigit() or not digits.isascii() \
            or not 4 <= len(digits) <= 12:
        raise SpecError("a purse PIN is 4 to 12 decimal digits")
    return bytes.fromhex(digits + ("F" if len(digits) % 2 else ""))


def parse_transaction_time(raw: bytes) -> _dt.datetime:
    """7 BCD bytes ``YYYYMMDDhhmmss`` → a naive datetime; :class:`SpecError` if invalid."""
    text = bytes(raw).hex()
    if len(raw) != 7 or not text.isdigit():
        raise SpecError(f"transaction date-time {bytes(raw).hex().upper()} is not 7 BCD bytes")
    return _transaction_time(text)


@pure_cache(maxsize=256)
def _transaction_time(text: str) -> _dt.datetime:
    """``strptime`` is slow and the answer (a datetime) immutable: once per distinct text."""
    try:
        return _dt.datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise SpecError(f"transaction date-time {text} is not a valid date and time") from None


# --- layouts ---------------------------------------------------------------------------


def parse_layout(layout: Construct, data: bytes, what: str) -> dict:
    """Fields of ``data`` laid out as ``layout``, exactly (6A80 on any mismatch)."""
    fast = fast_layout(layout)
    if fast is not None:
        parsed = fast.parse(data, exact=True)
        if parsed is not None:
            return parsed
    try:
        parsed = to_plain(layout.parse(bytes(data)))
        rebuilt = layout.build(parsed)
    except ConstructError:
        raise SpecError(f"malformed {what}: {len(data)} bytes do not fit its layout") from None
    if bytes(rebuilt) != bytes(data):
        raise SpecError(f"malformed {what}: {len(data) - len(rebuilt)} unexpected trailing bytes")
    return parsed


def build_layout(layout: Construct, fields: dict, what: str) -> bytes:
    """``fields`` laid out as ``layout``; :class:`SpecError` if they do not fit."""
    fast = fast_layout(layout)
    if fast is not None:
        built = fast.build(fields)
        if built is not None:
            return built
    try:
        return bytes(layout.build(fields))
    except (ConstructError, TypeError, ValueError, KeyError) as exc:
        raise SpecError(f"cannot build {what}: {exc}") from None


#: one movement in a purse's cyclic log, as READ RECORD returns it (32 bytes). The TAC
#: makes each record provable to the issuer on its own.
LOG_RECORD = Struct(
    "counter" / Int16ub,  # online (load) or offline (purchase) sequence number used
    "type" / Int8ub,
    "amount" / Int32ub,
    "balance_after" / Int32ub,
    "terminal_id" / Bytes(6),
    "terminal_seq" / Int32ub,  # the terminal's transaction sequence (0 for loads)
    "date" / Bytes(4),  # BCD YYYYMMDD
    "time" / Bytes(3),  # BCD hhmmss
    "tac" / Bytes(4),
)
LOG_RECORD_LENGTH = LOG_RECORD.sizeof()


# --- personalisation (STORE DATA DGIs) ----------------------------------------------


class DGI(IntEnum):
    """Fixed DGI numbers; purse and key DGIs are computed by :func:`purse_dgi` / :func:`key_dgi`."""

    APPLICATION = 0x0101  #: card identity and the MAC failure limit
    PIN = 0x8010  #: holder PIN and its try limit (sensitive)


class KeyKind(IntEnum):
    """Low byte of a key DGI ``8p0k`` (p = purse)."""

    LOAD = 0x01  #: DLK, indexed by key index
    PURCHASE = 0x02  #: DPK, indexed by key index
    TAC = 0x03  #: DTK, one per purse


#: bit of the purse options: INITIALIZE FOR PURCHASE needs a verified PIN
OPTION_PIN_FOR_PURCHASE = 0x01


@pure_cache(maxsize=64)
def purse_dgi(purse: Purse) -> int:
    """DGI ``02pp``: a purse's parameters and initial state."""
    return 0x0200 | Purse(purse).value


@pure_cache(maxsize=64)
def key_dgi(purse: Purse, kind: KeyKind) -> int:
    """DGI ``8p0k``: one key of one purse (sensitive: arrives decrypted from the SD)."""
    return 0x8000 | (Purse(purse).value << 8) | KeyKind(kind).value


APPLICATION_DGI = Struct("identity" / Bytes(IDENTITY_LENGTH), "mac_try_limit" / Int8ub)
PURSE_DGI = Struct(
    "algorithm_id" / Int8ub,
    "max_balance" / Int32ub,
    "balance" / Int32ub,
    "options" / Int8ub,
)
# The key comes first, on whole cipher blocks: a bureau's HSM then encrypts it under the
# DEK by wrapping it, with no byte of the key sharing a block with anything else.
KEY_DGI = Struct("key" / Bytes(KEY_LENGTH), "key_index" / Int8ub, "key_version" / Int8ub)
TAC_KEY_DGI = Struct("key" / Bytes(KEY_LENGTH), "key_version" / Int8ub)
PIN_DGI = Struct("try_limit" / Int8ub, "pin" / GreedyBytes)


# --- FCI -------------------------------------------------------------------------------

_TAG_FCI, _TAG_AID, _TAG_PROPRIETARY, _TAG_LABEL = 0x6F, 0x84, 0xA5, 0x50
_TAG_IDENTITY, _TAG_PURSES = 0x5A, 0xDF01
_LABEL = b"DUALCARD POINTS"


@dataclass(frozen=True)
class PurseFCI:
    """What SELECT tells the host: the card identity and the personalised purses."""

    aid: bytes
    identity: str
    #: purse → algorithm ID of its keys
    purses: dict[Purse, int]


def build_fci(aid: bytes, identity: bytes, purses: dict[Purse, int]) -> bytes:
    """``6F { 84 AID, A5 { 50 label, 5A identity, DF01 (purse ‖ algorithm ID)* } }``."""
    listing = b"".join(bytes([p, alg]) for p, alg in sorted(purses.items()))
    proprietary = [TLV.build(_TAG_LABEL, _LABEL), TLV.build(_TAG_IDENTITY, identity),
                   TLV.build(_TAG_PURSES, listing)]
    return TLV.build(_TAG_FCI, [TLV.build(_TAG_AID, aid),
                                TLV.build(_TAG_PROPRIETARY, proprietary)]).encode()


def parse_fci(data: bytes) -> PurseFCI:
    """Inverse of :func:`build_fci`; :class:`SpecError` names what is missing."""
    try:
        objs = parse_tlvs(data)
    except TLVError as exc:
        raise SpecError(f"purse FCI is not BER-TLV: {exc}") from None
    aid, identity, listing = (find(objs, tag) for tag in (_TAG_AID, _TAG_IDENTITY, _TAG_PURSES))
    if aid is None or identity is None:
        raise SpecError("purse FCI lacks the AID (84) or the card identity (5A)")
    raw = listing.value if listing is not None else b""
    if len(raw) % 2:
        raise SpecError("purse FCI: the purse list (DF01) has an odd length")
    purses: dict[Purse, int] = {}
    for i in range(0, len(raw), 2):
        if raw[i] not in Purse._value2member_map_:
            raise SpecError(f"purse FCI names an unknown purse {raw[i]:02X}")
        purses[Purse(raw[i])] = raw[i + 1]
    return PurseFCI(aid.value, decode_identity(identity.value), purses)
