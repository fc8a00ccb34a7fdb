"""GP command APDUs built from the command specs (no I/O; style lesson 2: no hand-made hex).

Each builder returns a plain :class:`~apdu_specs.apdu.CommandAPDU`; the client protects it
with the secure channel and sends it. STORE DATA and PUT KEY need the channel's DEK, so
they take the channel's encryption functions as arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from apdu_specs.apdu import CommandAPDU
from apdu_specs.caches import pure_cache
from apdu_specs.commands.globalplatform import (
    DELETE,
    GET_STATUS,
    INSTALL,
    PUT_KEY,
    SET_STATUS,
    STORE_DATA,
)
from apdu_specs.commands.gp_extra import DELETE_KEY, encode_dgi
from apdu_specs.commands.iso7816 import GET_DATA, SELECT
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.tlv import TLV

__all__ = [
    "DGI",
    "MAX_STORE_DATA_BLOCK",
    "delete",
    "delete_key",
    "get_data",
    "get_status",
    "install",
    "install_for_personalization",
    "make_selectable",
    "put_key",
    "select",
    "set_status",
    "store_data",
]

_Builder = TypeVar("_Builder", bound=Callable[..., CommandAPDU])


def _memoized(build: _Builder) -> _Builder:
    """A builder that depends only on its (bytes and int) arguments, whose APDU is frozen:
    the commands a run repeats card after card (SELECT, GET STATUS, INSTALL…) are built
    once. An unhashable argument (a bytearray) is simply built afresh."""
    cached = pure_cache(maxsize=256, typed=True)(build)

    @functools.wraps(build)
    def builder(*args: Any, **kwargs: Any) -> CommandAPDU:
        try:
            return cached(*args, **kwargs)
        except TypeError:
            return build(*args, **kwargs)

    return builder  # type: ignore[return-value]


#: plain data per STORE DATA block: with C-DECRYPTION padding and a 16-byte C-MAC it
#: still fits a short APDU (223 → 224 encrypted + 16 ≤ 255)
MAX_STORE_DATA_BLOCK = 223


@dataclass(frozen=True, repr=False, init=False)
class DGI:
    """One data grouping for STORE DATA; ``sensitive`` ones travel encrypted under the DEK.

    ``sealed``: a sensitive value already encrypted under the channel's DEK (by an HSM that
    made the keys in it), sent as it is.
    """

    dgi: int
    value: bytes
    sensitive: bool = False
    sealed: bool = False

    def __init__(self, dgi: int, value: bytes, sensitive: bool = False,
                 sealed: bool = False) -> None:
        # Every card's plan makes a few dozen: filling the frozen fields through __dict__
        # skips the generated __init__'s object.__setattr__ calls.
        fields = self.__dict__
        fields["dgi"], fields["value"], fields["sensitive"] = dgi, value, sensitive
        fields["sealed"] = sealed

    def __repr__(self) -> str:
        shown = (f"{len(self.value)} bytes, encrypted" if self.sensitive
                 else self.value.hex().upper())
        return f"DGI({self.dgi:04X}: {shown})"


@_memoized
def select(aid: bytes) -> CommandAPDU:
    return SELECT.build(selection=0x04, occurrence=0x00, data={"name": aid}, ne=256)


def _install(role: int, load_file: bytes = b"", module: bytes = b"", aid: bytes = b"",
             privileges: bytes = b"", parameters: bytes = b"") -> CommandAPDU:
    return INSTALL.build(role=role, data={
        "load_file_aid": load_file, "module_aid": module, "application_aid": aid,
        "privileges": privileges, "parameters": parameters, "token": b""}, ne=256)


@_memoized
def install(load_file: bytes, module: bytes, aid: bytes, *, privileges: bytes = b"\x00",
            params: bytes = b"", make_selectable: bool = True) -> CommandAPDU:
    """INSTALL [for install] (and [for make selectable]); ``params`` become the C9 value."""
    parameters = TLV.build(0xC9, params).encode()
    return _install(0x0C if make_selectable else 0x04, load_file, module, aid, privileges,
                    parameters)


@_memoized
def make_selectable(aid: bytes, privileges: bytes = b"") -> CommandAPDU:
    return _install(0x08, aid=aid, privileges=privileges)


@_memoized
def install_for_personalization(aid: bytes) -> CommandAPDU:
    return _install(0x20, aid=aid)


@_memoized
def delete(aid: bytes, *, related: bool = False) -> CommandAPDU:
    return DELETE.build(scope=0x80 if related else 0x00, data={"aid": aid}, ne=256)


@_memoized
def delete_key(kvn: int) -> CommandAPDU:
    return DELETE_KEY.build(data={"key_version": kvn}, ne=256)


@_memoized
def get_status(subset: int, *, next_occurrence: bool = False,
               aid_prefix: bytes = b"") -> CommandAPDU:
    """GET STATUS in TLV format; ``aid_prefix`` filters (empty: everything)."""
    fmt = 0x02 | (0x01 if next_occurrence else 0x00)
    criteria = TLV.build(0x4F, aid_prefix).encode()
    return GET_STATUS.build(subset=subset, format=fmt, data={"criteria": criteria}, ne=256)


@_memoized
def set_status(target: int, state: int, aid: bytes = b"") -> CommandAPDU:
    data = {"aid": aid} if aid else None
    return SET_STATUS.build(target=target, state=state, data=data)


@_memoized
def get_data(tag: int) -> CommandAPDU:
    return GET_DATA.build(tag_high=tag >> 8, tag_low=tag & 0xFF, ne=256)


def put_key(keys: StaticKeys, new_kvn: int, *, replace_kvn: int = 0x00,
            component: Callable[[bytes], dict[str, object]]) -> CommandAPDU:
    """PUT KEY of a whole key set (key id 1: ENC, MAC, DEK); ``component`` encrypts each key."""
    return put_key_entries([component(k) for k in (keys.enc, keys.mac, keys.dek)], new_kvn,
                           replace_kvn=replace_kvn)


def put_key_entries(entries: Sequence[dict[str, object]], new_kvn: int, *,
                    replace_kvn: int = 0x00) -> CommandAPDU:
    """PUT KEY of ENC, MAC and DEK already encrypted (type, key field, KCV each)."""
    return PUT_KEY.build(old_key_version=replace_kvn, key_id=0x81,
                         data={"new_key_version": new_kvn, "keys": list(entries)}, ne=256)


def _streams(dgis: Iterable[DGI], encrypt: Callable[[bytes], bytes]) -> list[tuple[bool, bytes]]:
    """Runs of consecutive DGIs of the same kind, framed (sensitive values encrypted)."""
    runs: list[tuple[bool, bytes]] = []
    kind: bool | None = None
    framed: list[bytes] = []  # the current run's DGIs, joined once the run ends
    for item in dgis:
        sensitive = item.sensitive
        if sensitive != kind:
            if framed:
                runs.append((bool(kind), b"".join(framed)))
            kind, framed = sensitive, []
        framed.append(encode_dgi(item.dgi, encrypt(item.value)
                                 if sensitive and not item.sealed else item.value))
    if framed:
        runs.append((bool(kind), b"".join(framed)))
    return runs


def store_data(dgis: Sequence[DGI], *, encrypt: Callable[[bytes], bytes],
               block_size: int = MAX_STORE_DATA_BLOCK) -> list[CommandAPDU]:
    """The STORE DATA blocks for ``dgis`` (P2 numbered from 00, P1 b8 on the last).

    A run of plain or of sensitive DGIs is cut into blocks of ``block_size``; a long DGI
    may straddle blocks, and a new run always starts a new block.
    """
    if not dgis:
        raise ValueError("STORE DATA needs at least one DGI")
    blocks: list[tuple[bool, bytes]] = []
    for sensitive, data in _streams(dgis, encrypt):
        blocks += [(sensitive, data[i:i + block_size]) for i in range(0, len(data), block_size)]
    if len(blocks) > 256:
        raise ValueError(f"{len(blocks)} STORE DATA blocks exceed the 256 a sequence can number")
    last = len(blocks) - 1
    return [STORE_DATA.build(control=_control(sensitive, n == last), block=n,
                             data={"payload": payload})
            for n, (sensitive, payload) in enumerate(blocks)]


def _control(sensitive: bool, last: bool) -> int:
    """STORE DATA's P1: DGI structure (08), encrypted (60), last block (80)."""
    return 0x08 | (0x60 if sensitive else 0x00) | (0x80 if last else 0x00)
