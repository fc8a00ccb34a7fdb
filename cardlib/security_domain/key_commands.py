"""PUT KEY and DELETE KEY: the ISD's key sets change only through these.

PUT KEY replaces whole key sets (key id 1 with ENC, MAC and DEK; P2 = 81). P1 = 00 adds a
key set (the initial set FF is then retired, see :mod:`.keystore`); P1 = KVN replaces
that set, possibly under a new version number. Every key arrives encrypted under the
session's DEK with its KCV; a KCV that does not match the decrypted key is refused
(6A80) and nothing is stored. The answer is the new KVN and the three KCVs.
"""

from __future__ import annotations

from typing import Any

from apdu_specs.commands.globalplatform import PUT_KEY
from apdu_specs.commands.gp_extra import DELETE_KEY, decode_key_component
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.errors import SpecError
from apdu_specs.sw import SW, SWError
from cardlib.applet import APDUContext, handles

from .base import SecurityDomainBase
from .constants import INITIAL_KVN
from .keystore import KeySet

__all__ = ["KeyCommands"]


def _valid_kvn(kvn: int) -> bool:
    return 0x01 <= kvn <= 0x7F or kvn == INITIAL_KVN


class KeyCommands(SecurityDomainBase):
    @handles(PUT_KEY)
    def put_key(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        old_kvn, key_id = fields["old_key_version"], fields["key_id"]
        new_kvn, entries = fields["data"]["new_key_version"], fields["data"]["keys"]
        if key_id & 0x7F != 0x01 or len(entries) != 3:
            raise SWError(SW.WRONG_DATA, "PUT KEY takes whole key sets: key id 1, ENC MAC DEK")
        if not _valid_kvn(new_kvn):
            raise SWError(SW.WRONG_DATA, f"key version {new_kvn:02X} is not usable")
        keyset = KeySet(new_kvn, self._decode(ctx, entries))
        store = self.keystore
        if old_kvn == 0x00:
            if store.get(new_kvn) is not None:
                raise SWError(SW.CONDITIONS_NOT_SATISFIED, f"key set {new_kvn:02X} exists")
            retiring = store.get(INITIAL_KVN) is not None and new_kvn != INITIAL_KVN
            if len(store.versions()) - retiring >= self.profile.max_key_sets:
                raise SWError(SW.NOT_ENOUGH_MEMORY, "no room for another key set")
            store.add(keyset)
        else:
            if store.get(old_kvn) is None:
                raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"no key set {old_kvn:02X}")
            if new_kvn != old_kvn:
                if store.get(new_kvn) is not None:
                    raise SWError(SW.CONDITIONS_NOT_SATISFIED, f"key set {new_kvn:02X} exists")
                store.delete(old_kvn)
            store.put(keyset)
        return PUT_KEY.build_response({"key_version": new_kvn, "kcvs": list(keyset.keys.kcvs())})

    def _decode(self, ctx: APDUContext, entries: list[dict[str, Any]]) -> StaticKeys:
        dek = self.channel_state(ctx).dek
        if dek is None:
            raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED, "no session DEK")
        suite = self.profile.suite.algorithm
        keys: list[bytes] = []
        for entry in entries:
            try:
                algorithm, key = decode_key_component(entry, dek.cipher)
            except SpecError as exc:
                raise SWError(exc.sw, str(exc)) from None
            if algorithm is not suite:
                raise SWError(SW.WRONG_DATA, f"{algorithm.value} key on a {suite.value} card")
            keys.append(key)
        if len({len(k) for k in keys}) != 1:
            raise SWError(SW.WRONG_DATA, "ENC, MAC and DEK must have the same length")
        enc, mac, dek_key = keys
        return StaticKeys(enc, mac, dek_key, suite)

    @handles(DELETE_KEY)
    def delete_key(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        kvn = fields["data"]["key_version"]
        store = self.keystore
        if store.get(kvn) is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"no key set {kvn:02X}")
        if kvn == self.channel_state(ctx).kvn:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "key set in use by this session")
        if store.versions() == [kvn]:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "the last key set cannot be deleted")
        store.delete(kvn)
        return b"\x00"
