"""Records, FCI and READ RECORD, shared by the payment directory and the applications.

Records are stored exactly as personalised (the whole ``70`` template, one key per
SFI and record) and read back by READ RECORD ``P2 = SFI << 3 | 4``.
"""

from __future__ import annotations

from apdu_specs.caches import pure_cache
from apdu_specs.errors import TLVError
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import TLV, parse_tlvs
from cardlib.memory import MemoryView

__all__ = ["RecordFile", "build_fci", "parse_template"]

RECORD_TEMPLATE = 0x70
_P2_RECORD_NUMBER = 0x04


def parse_template(data: bytes, tag: int, what: str) -> TLV:
    """``data`` must be exactly one ``tag`` template; 6A80 otherwise."""
    try:
        objs = parse_tlvs(data)
    except TLVError as exc:
        raise SWError(SW.WRONG_DATA, f"{what}: {exc}") from None
    if len(objs) != 1 or objs[0].tag != tag:
        raise SWError(SW.WRONG_DATA, f"{what} must be one {tag:02X} template")
    return objs[0]


class RecordFile:
    """The linear record files of one application, addressed by SFI."""

    def __init__(self, store: MemoryView) -> None:
        self._store = store

    @staticmethod
    def _key(sfi: int, record: int) -> str:
        return f"record/{sfi:02X}/{record:02X}"

    def put(self, sfi: int, record: int, template: bytes) -> TLV:
        tlv = parse_template(template, RECORD_TEMPLATE, f"record {record} of SFI {sfi}")
        self._store.set(self._key(sfi, record), bytes(template))
        return tlv

    def has_sfi(self, sfi: int) -> bool:
        prefix = f"record/{sfi:02X}/"
        stored = self._store.keys()
        return any(k.startswith(prefix) for k in stored)

    def read(self, record: int, p2: int) -> bytes:
        """READ RECORD: record ``record`` of the SFI in ``p2``."""
        if p2 & 0x07 != _P2_RECORD_NUMBER or not 1 <= p2 >> 3 <= 30:
            raise SWError(SW.INCORRECT_P1P2, "P2 must be SFI << 3 | 4 with SFI 1..30")
        sfi = p2 >> 3
        value = self._store.get(self._key(sfi, record)) if record else None
        if value is None:
            raise SWError(SW.RECORD_NOT_FOUND if self.has_sfi(sfi) else SW.FILE_NOT_FOUND)
        return value


def build_fci(df_name: bytes, proprietary: bytes | None) -> bytes:
    """``6F { 84 DF name, A5 proprietary }`` (A5 left out before personalisation)."""
    if type(df_name) is bytes and (proprietary is None or type(proprietary) is bytes):
        return _fci(df_name, proprietary)
    return _build_fci(df_name, proprietary)


@pure_cache(maxsize=256)
def _fci(df_name: bytes, proprietary: bytes | None) -> bytes:
    """Every SELECT answers it: a pure function of the stored (immutable) bytes."""
    return _build_fci(df_name, proprietary)


def _build_fci(df_name: bytes, proprietary: bytes | None) -> bytes:
    kids = [TLV(0x84, df_name)]
    if proprietary is not None:
        kids.append(TLV.build(0xA5, proprietary))
    return TLV.build(0x6F, kids).encode()
