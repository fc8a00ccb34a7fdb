"""Personalisation of a payment application: one DGI at a time (layouts in apdu_specs.payment.dgi).

Every DGI is validated before anything is stored, so a malformed one fails its
STORE DATA (6A80) and leaves the application as it was. Order matters where one DGI
checks another: 0E01 (cryptographic parameters) before 8000 (keys), 8000 before 9000
(their KCVs), 9010 (PIN try limit) before 8010 (the PIN).
"""

from __future__ import annotations

from apdu_specs.caches import pure_cache
from apdu_specs.errors import ProtocolError
from apdu_specs.payment import dgi as D
from apdu_specs.payment.afl import decode_afl
from apdu_specs.payment.cryptogram import CryptogramVersion
from apdu_specs.payment.pin_block import decode_pin_block, encode_pin_block
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import TLV, find, parse_dol
from cardlib.memory import MemoryView
from cardlib.pin import PIN

from .records import RecordFile, parse_template

__all__ = ["REQUIRED_KEYS", "missing_data", "personalize_application", "personalize_directory"]

#: what must be stored before GET PROCESSING OPTIONS works
REQUIRED_KEYS = ("crypto", "risk", "keys", "gpo", "fci", "cdol1", "cdol2")
DEFAULT_PIN_TRY_LIMIT = 3


def missing_data(store: MemoryView) -> list[str]:
    """What GET PROCESSING OPTIONS still lacks; empty once the application is personalised."""
    return [key for key in REQUIRED_KEYS if store.get(key) is None]


def _dol(value: bytes, what: str) -> bytes:
    try:
        parse_dol(value)
    except ProtocolError as exc:
        raise SWError(SW.WRONG_DATA, f"{what}: {exc}") from None
    return bytes(value)


def _store_record(store: MemoryView, dgi: int, data: bytes) -> bool:
    where = D.record_of_dgi(dgi)
    if where is None:
        return False
    template = RecordFile(store).put(*where, data)
    for tag, key in ((0x8C, "cdol1"), (0x8D, "cdol2")):
        obj = find(template.children, tag)
        if obj is not None:
            store.set(key, _dol(obj.value, f"tag {tag:X}"))
    return True


def _store_fci(store: MemoryView, data: bytes) -> None:
    data = bytes(data)
    store.set("pdol", _fci_pdol(data))
    store.set("fci", data)


@pure_cache(maxsize=64)
def _fci_pdol(data: bytes) -> bytes:
    """The PDOL (empty when absent) of an FCI proprietary template, checked.

    The FCI is the same on every card of a profile: a pure function of its bytes, and a
    bad one raises every time (lru_cache keeps only answers).
    """
    template = parse_template(TLV(0xA5, data).encode(), 0xA5, "DGI 9102")
    pdol = find(template.children, 0x9F38)
    return _dol(pdol.value, "PDOL") if pdol is not None else b""


def personalize_directory(store: MemoryView, dgi: int, data: bytes) -> None:
    """PSE / PPSE: records and the FCI proprietary template."""
    if dgi == D.FCI_PROPRIETARY:
        _store_fci(store, data)
    elif not _store_record(store, dgi, data):
        raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"DGI {dgi:04X} unknown to a directory")


def personalize_application(store: MemoryView, pin: PIN, dgi: int, data: bytes) -> None:
    try:
        _personalize(store, pin, dgi, bytes(data))
    except ProtocolError as exc:
        raise SWError(SW.WRONG_DATA, f"DGI {dgi:04X}: {exc}") from None


def _personalize(store: MemoryView, pin: PIN, dgi: int, data: bytes) -> None:
    if dgi == D.FCI_PROPRIETARY:
        _store_fci(store, data)
    elif dgi == D.GPO_RESPONSE:
        if len(data) < 6:
            raise SWError(SW.WRONG_DATA, "DGI 9104 is AIP (2) followed by at least one AFL entry")
        _check_afl(data[2:])
        store.set("gpo", data)
    elif dgi == D.CRYPTO_PARAMETERS:
        params = _crypto_parameters(data)
        store.set("crypto", _canonical_crypto(data))
        if store.get("atc") is None:
            store.set("atc", params.initial_atc)
    elif dgi == D.RISK_PARAMETERS:
        store.set("risk", _canonical_risk(data))
    elif dgi == D.MASTER_KEYS:
        store.set("keys", D.encode_master_keys(D.decode_master_keys(data, _version(store))))
    elif dgi == D.KEY_CHECK_VALUES:
        _check_kcvs(store, data)
    elif dgi == D.PIN_TRY_LIMIT:
        if len(data) != 1 or not 1 <= data[0] <= 15:
            raise SWError(SW.WRONG_DATA, "DGI 9010 is one byte, a try limit of 1..15")
        if pin.is_set:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "DGI 9010 must come before DGI 8010")
        store.set("pin_limit", data[0])
    elif dgi == D.PIN:
        block = encode_pin_block(decode_pin_block(data))
        pin.set(block, try_limit=int(store.get("pin_limit", DEFAULT_PIN_TRY_LIMIT)))
    elif not _store_record(store, dgi, data):
        raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"DGI {dgi:04X} unknown to this application")


def _version(store: MemoryView) -> CryptogramVersion:
    raw = store.get("crypto")
    if raw is None:
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, "DGI 0E01 must come before the keys")
    return _crypto_parameters(raw).version


# DGIs that are the same on every card of a profile (parameters, the GPO answer) are
# checked and re-encoded once per distinct value: pure functions of immutable bytes,
# and a bad value raises every time (lru_cache keeps only answers).
@pure_cache(maxsize=64)
def _crypto_parameters(data: bytes) -> D.CryptoParameters:
    return D.CryptoParameters.decode(data)


@pure_cache(maxsize=64)
def _canonical_crypto(data: bytes) -> bytes:
    return _crypto_parameters(data).encode()


@pure_cache(maxsize=64)
def _canonical_risk(data: bytes) -> bytes:
    return D.RiskParameters.decode(data).encode()


@pure_cache(maxsize=64)
def _check_afl(afl: bytes) -> None:
    decode_afl(afl)


def _check_kcvs(store: MemoryView, data: bytes) -> None:
    raw = store.get("keys")
    if raw is None:
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, "DGI 8000 must come before DGI 9000")
    version = _version(store)
    if D.encode_kcvs(D.decode_master_keys(raw, version), version) != data:
        raise SWError(SW.WRONG_DATA, "key check values do not match the keys")
