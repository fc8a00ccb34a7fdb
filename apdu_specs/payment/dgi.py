"""Personalisation data groups (DGIs) of the payment applications and directories.

STORE DATA carries DGIs (2-byte identifier, length, value; GP 2.3 §11.11, EMV CPS
§4.3); the security domain hands each to the application's ``personalize``. The
numbering is modelled on EMV CPS; the layouts are dualcard's:

======  ============================================================  =========
DGI     value                                                          sensitive
======  ============================================================  =========
SSRR    record RR of SFI SS (01..1E): the whole record template (70)
9102    FCI proprietary template content (A5 value) returned by SELECT
9104    GET PROCESSING OPTIONS answer: AIP (2) ‖ AFL (4n)
8000    ICC master keys MK-AC ‖ MK-SMI ‖ MK-SMC                           yes
9000    their key check values (3 bytes each, in the suite's convention)
8010    the offline PIN as an 8-byte plaintext PIN block                    yes
9010    PIN try limit (1 byte, 1..15)
0D01    risk parameters: DF10 offline limit, DF11 credit limit (4-byte
        binary minor units), 9F14/9F23 lower/upper consecutive offline
        limits (1 byte), 9F42 application currency (n3)
0E01    cryptographic parameters: CVN (1) ‖ DKI (1) ‖ ARPC method (1) ‖
        initial ATC (2)
======  ============================================================  =========

Directories (PSE, PPSE) take only records and 9102.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..tlv import TLV, encode_tlvs, parse_tlvs
from .bcd import decode_numeric, encode_numeric
from .cryptogram import CryptogramVersion, IssuerMasterKeys, version_for
from .errors import PaymentFormatError
from .issuer_response import ARPCMethod

__all__ = [
    "CRYPTO_PARAMETERS",
    "FCI_PROPRIETARY",
    "GPO_RESPONSE",
    "KEY_CHECK_VALUES",
    "MASTER_KEYS",
    "PIN",
    "PIN_TRY_LIMIT",
    "RISK_PARAMETERS",
    "SENSITIVE_DGIS",
    "TAG_APP_CURRENCY",
    "TAG_CREDIT_LIMIT",
    "TAG_LOWER_OFFLINE",
    "TAG_OFFLINE_LIMIT",
    "TAG_UPPER_OFFLINE",
    "CryptoParameters",
    "RiskParameters",
    "decode_limit",
    "decode_master_keys",
    "encode_kcvs",
    "encode_limit",
    "encode_master_keys",
    "record_dgi",
    "record_of_dgi",
]

FCI_PROPRIETARY = 0x9102
GPO_RESPONSE = 0x9104
MASTER_KEYS = 0x8000
KEY_CHECK_VALUES = 0x9000
PIN = 0x8010
PIN_TRY_LIMIT = 0x9010
RISK_PARAMETERS = 0x0D01
CRYPTO_PARAMETERS = 0x0E01
SENSITIVE_DGIS = frozenset({MASTER_KEYS, PIN})

TAG_OFFLINE_LIMIT = 0xDF10
TAG_CREDIT_LIMIT = 0xDF11
TAG_LOWER_OFFLINE = 0x9F14
TAG_UPPER_OFFLINE = 0x9F23
TAG_APP_CURRENCY = 0x9F42
LIMIT_LENGTH = 4
KCV_LENGTH = 3


def record_dgi(sfi: int, record: int) -> int:
    if not 1 <= sfi <= 30 or not 1 <= record <= 0xFF:
        raise PaymentFormatError(f"no record DGI for SFI {sfi} record {record}")
    return sfi << 8 | record


def record_of_dgi(dgi: int) -> tuple[int, int] | None:
    """(SFI, record) when ``dgi`` names a record, else None."""
    sfi, record = dgi >> 8, dgi & 0xFF
    if 1 <= sfi <= 30 and record >= 1:
        return sfi, record
    return None


def encode_limit(value: int) -> bytes:
    if not 0 <= value < 1 << (8 * LIMIT_LENGTH):
        raise PaymentFormatError(f"a limit is 0..{(1 << 32) - 1} minor units, got {value}")
    return value.to_bytes(LIMIT_LENGTH, "big")


def decode_limit(data: bytes) -> int:
    if len(data) != LIMIT_LENGTH:
        raise PaymentFormatError(f"a limit has {LIMIT_LENGTH} bytes, got {len(data)}")
    return int.from_bytes(data, "big")


@dataclass(frozen=True)
class CryptoParameters:
    cvn: int
    dki: int = 1
    arpc_method: ARPCMethod = ARPCMethod.METHOD_2
    initial_atc: int = 0

    def __post_init__(self) -> None:
        version_for(self.cvn)
        if not 0 <= self.dki <= 0xFF or not 0 <= self.initial_atc < 0xFFFF:
            raise PaymentFormatError("DKI is a byte and the initial ATC is below FFFF")

    @property
    def version(self) -> CryptogramVersion:
        return version_for(self.cvn)

    def encode(self) -> bytes:
        return bytes((self.cvn, self.dki, self.arpc_method.value)) + self.initial_atc.to_bytes(2, "big")

    @classmethod
    def decode(cls, data: bytes) -> CryptoParameters:
        if len(data) != 5:
            raise PaymentFormatError(f"DGI 0E01 has 5 bytes, got {len(data)}")
        try:
            method = ARPCMethod(data[2])
        except ValueError:
            raise PaymentFormatError(f"ARPC method {data[2]} is not 1 or 2") from None
        return cls(data[0], data[1], method, int.from_bytes(data[3:5], "big"))


@dataclass(frozen=True)
class RiskParameters:
    """Card risk management parameters; ``credit_limit`` is None for a debit application."""

    offline_limit: int
    currency: int
    lower_consecutive_offline: int = 0
    upper_consecutive_offline: int = 0
    credit_limit: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.lower_consecutive_offline <= self.upper_consecutive_offline <= 0xFF:
            raise PaymentFormatError("consecutive offline limits: 0 <= lower <= upper <= 255")
        encode_limit(self.offline_limit)
        if self.credit_limit is not None:
            encode_limit(self.credit_limit)
        encode_numeric(self.currency, 2)

    def encode(self) -> bytes:
        objs = [TLV(TAG_OFFLINE_LIMIT, encode_limit(self.offline_limit))]
        if self.credit_limit is not None:
            objs.append(TLV(TAG_CREDIT_LIMIT, encode_limit(self.credit_limit)))
        objs += [TLV(TAG_LOWER_OFFLINE, bytes([self.lower_consecutive_offline])),
                 TLV(TAG_UPPER_OFFLINE, bytes([self.upper_consecutive_offline])),
                 TLV(TAG_APP_CURRENCY, encode_numeric(self.currency, 2))]
        return encode_tlvs(objs)

    @classmethod
    def decode(cls, data: bytes) -> RiskParameters:
        values = {o.tag: o.value for o in parse_tlvs(data)}
        try:
            lower, upper = values[TAG_LOWER_OFFLINE], values[TAG_UPPER_OFFLINE]
            offline, currency = values[TAG_OFFLINE_LIMIT], values[TAG_APP_CURRENCY]
        except KeyError as exc:
            raise PaymentFormatError(f"DGI 0D01 lacks tag {exc.args[0]:X}") from None
        if len(lower) != 1 or len(upper) != 1 or len(currency) != 2:
            raise PaymentFormatError("DGI 0D01: 9F14/9F23 have 1 byte, 9F42 has 2")
        credit = values.get(TAG_CREDIT_LIMIT)
        return cls(decode_limit(offline), decode_numeric(currency), lower[0], upper[0],
                   None if credit is None else decode_limit(credit))


def encode_master_keys(keys: IssuerMasterKeys) -> bytes:
    return keys.ac + keys.smi + keys.smc


def decode_master_keys(data: bytes, version: CryptogramVersion) -> IssuerMasterKeys:
    n = version.key_length
    if len(data) != 3 * n:
        raise PaymentFormatError(f"DGI 8000 holds three {n}-byte keys, got {len(data)} bytes")
    return IssuerMasterKeys(data[:n], data[n:2 * n], data[2 * n:])


def encode_kcvs(keys: IssuerMasterKeys, version: CryptogramVersion) -> bytes:
    return b"".join(version.kcv(k) for k in (keys.ac, keys.smi, keys.smc))
