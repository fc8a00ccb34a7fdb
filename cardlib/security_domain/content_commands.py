"""Card content management: INSTALL, DELETE, SET STATUS, GET STATUS, STORE DATA.

INSTALL (GPC 2.3 §11.5) instantiates an applet class registered as a load file:
[for install] leaves it INSTALLED, [for install and make selectable] or a later
[for make selectable] makes it SELECTABLE, [for personalization] names it as the
target of the following STORE DATA blocks. [for load] and [for registry update] are
not offered (load files are registered with the simulator, not loaded): 6A81.

DELETE removes an application instance and its memory. Load files are permanent (as
if in ROM): deleting one answers 6985, unless P2=80 asks to delete its applications
too — then those are deleted and the load file stays. The ISD cannot be deleted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from apdu_specs.caches import pure_cache
from apdu_specs.commands.globalplatform import DELETE, GET_STATUS, INSTALL, SET_STATUS, STORE_DATA
from apdu_specs.commands.gp_extra import decrypt_sensitive
from apdu_specs.errors import SpecError, TLVError
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import find, parse_tlvs
from cardlib.applet import APDUContext, Response, handles
from cardlib.content import AppLifeCycle, AppRecord, CardLifeCycle
from cardlib.registry import find_load_file

from .base import SecurityDomainBase
from .channel import ChannelState
from .lifecycle import check_card_transition, next_app_state
from .personalization import StoreDataControl, StoreDataSession, Structure
from .status import aid_filter, encode_entries, paginate, registry_entries

__all__ = ["ContentCommands"]

_DONE = b"\x00"  # INSTALL / DELETE answer: no confirmation data


@pure_cache(maxsize=256)
def _install_parameters(field: bytes) -> bytes:
    """The application-specific parameters (C9 value) of the install parameters field.

    A pure function of the field, which every card of a profile gets the same.
    """
    if not field:
        return b""
    try:
        c9 = find(parse_tlvs(field), 0xC9)
    except TLVError as exc:
        raise SWError(SW.WRONG_DATA, f"install parameters: {exc}") from None
    return c9.value if c9 is not None else b""


def _check_aid(aid: bytes, what: str) -> None:
    if not 5 <= len(aid) <= 16:
        raise SWError(SW.WRONG_DATA, f"{what} must have 5 to 16 bytes, got {len(aid)}")


class ContentCommands(SecurityDomainBase):
    # --- INSTALL ---------------------------------------------------------------------
    @handles(INSTALL)
    def install(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        role, data = fields["role"], fields["data"]
        if role & 0x04:
            return self._install_for_install(data, make_selectable=bool(role & 0x08))
        if role == 0x08:
            return self._make_selectable(data["application_aid"])
        if role == 0x20:
            return self._for_personalization(ctx, data["application_aid"])
        raise SWError(SW.FUNCTION_NOT_SUPPORTED, f"INSTALL P1 {role:02X} is not offered")

    def _install_for_install(self, data: dict[str, Any], make_selectable: bool) -> bytes:
        for name in ("load_file_aid", "module_aid", "application_aid"):
            _check_aid(data[name], name.replace("_", " "))
        privileges = data["privileges"] or b"\x00"
        if len(privileges) not in (1, 3):
            raise SWError(SW.WRONG_DATA, "privileges have 1 or 3 bytes")
        if privileges[0] & 0x80:
            raise SWError(SW.WRONG_DATA, "supplementary security domains are not supported")
        self.content.install(data["load_file_aid"], data["module_aid"], data["application_aid"],
                             privileges=privileges, params=_install_parameters(data["parameters"]),
                             make_selectable=make_selectable)
        return _DONE

    def _make_selectable(self, aid: bytes) -> bytes:
        rec = self._application(aid)
        if rec.state != AppLifeCycle.INSTALLED:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED,
                          f"application is {AppLifeCycle.name(rec.state)}, not INSTALLED")
        self.content.set_app_state(aid, AppLifeCycle.SELECTABLE)
        return _DONE

    def _for_personalization(self, ctx: APDUContext, aid: bytes) -> bytes:
        rec = self._application(aid)
        if rec.state & AppLifeCycle.LOCKED_BIT:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "application locked")
        self.channel_state(ctx).perso = StoreDataSession(rec.aid)
        return _DONE

    def _application(self, aid: bytes) -> AppRecord:
        rec = self.content.record(aid)
        if rec is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"no application {aid.hex().upper()}")
        if rec.aid == self.aid or rec.is_security_domain:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "not for a security domain")
        return rec

    # --- DELETE ----------------------------------------------------------------------
    @handles(DELETE)
    def delete(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        aid, related = fields["data"]["aid"], fields["scope"] == 0x80
        content = self.content
        if content.record(aid) is not None:
            self._application(aid)
            self._forget_perso(aid)
            content.delete(aid)
            return _DONE
        if find_load_file(aid) is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"nothing named {aid.hex().upper()}")
        if not related:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "load files are permanent on this card")
        for rec in content.records():
            if rec.load_file_aid == aid and not rec.is_security_domain:
                self._forget_perso(rec.aid)
                content.delete(rec.aid)
        return _DONE

    def _forget_perso(self, aid: bytes) -> None:
        for state in self.channels.states():
            if state.perso is not None and state.perso.target == aid:
                state.perso = None

    # --- SET STATUS ------------------------------------------------------------------
    @handles(SET_STATUS)
    def set_status(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        target, new = fields["target"], fields["state"]
        aid = fields.get("data", {}).get("aid", b"")
        content = self.content
        if target == 0x80:
            if aid and aid != self.aid:
                raise SWError(SW.WRONG_DATA, "P1=80 addresses the ISD only")
            check_card_transition(content.card_state, new)
            content.set_card_state(new)
            return b""
        if content.card_state == CardLifeCycle.CARD_LOCKED:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "card locked")
        if not aid:
            raise SWError(SW.WRONG_DATA, "SET STATUS of an application needs its AID")
        rec = self._application(aid)
        content.set_app_state(rec.aid, next_app_state(rec.state, new))
        return b""

    # --- GET STATUS ------------------------------------------------------------------
    @handles(GET_STATUS)
    def get_status(self, ctx: APDUContext, fields: dict[str, Any]) -> Response:
        subset, fmt = fields["subset"], fields["format"]
        state = self.channel_state(ctx)
        key = (subset, fmt & 0x02)
        if fmt & 0x01:
            if state.status_key != key or not state.status_pending:
                raise SWError(SW.CONDITIONS_NOT_SATISFIED, "no GET STATUS in progress")
            chunks = state.status_pending
        else:
            prefix = aid_filter(fields["data"]["criteria"])
            entries = [e for e in registry_entries(subset, self.content, self.aid)
                       if e.aid.startswith(prefix)]
            if not entries:
                raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "no registry entry matches")
            chunks = encode_entries(entries, bool(fmt & 0x02), subset)
        page, rest = paginate(chunks, self.profile.status_page_size)
        state.status_pending, state.status_key = rest, key
        return Response(page, SW.MORE_DATA_AVAILABLE if rest else SW.OK)

    # --- STORE DATA ------------------------------------------------------------------
    @handles(STORE_DATA)
    def store_data(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        control = StoreDataControl.parse(fields["control"])
        payload = fields["data"]["payload"]
        state = self.channel_state(ctx)
        perso = state.perso
        if perso is None:
            self._personalize_self(control, payload)
            return b""
        if control.structure == Structure.BER_TLV:
            raise SWError(SW.WRONG_DATA, "applications are personalised with DGIs")
        if self.content.record(perso.target) is None:
            state.perso = None
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "personalisation target is gone")
        items = perso.feed(control, fields["block"], payload)
        applet = self.content.instance(perso.target)
        for dgi, value, encrypted in items:
            applet.personalize(dgi, self._decrypt(state, value) if encrypted else value)
        if control.last:
            applet.end_personalization()
            state.perso = None
        return b""

    @staticmethod
    def _decrypt(state: ChannelState, value: bytes) -> bytes:
        if state.dek is None:
            raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED, "no session DEK")
        try:
            return decrypt_sensitive(state.dek.algorithm, state.dek.cipher, value)
        except SpecError as exc:
            raise SWError(exc.sw, str(exc)) from None

    def _personalize_self(self, control: StoreDataControl, payload: bytes) -> None:
        """STORE DATA with no application named: the ISD's own data (BER-TLV 42 IIN, 45 CIN)."""
        if control.structure == Structure.DGI or control.encrypted:
            raise SWError(SW.WRONG_DATA, "the ISD takes plain BER-TLV data")
        try:
            objs = parse_tlvs(payload)
        except TLVError as exc:
            raise SWError(SW.WRONG_DATA, f"STORE DATA: {exc}") from None
        identity = self.identity
        for obj in objs:
            if obj.tag == 0x42:
                identity = replace(identity, iin=obj.value)
            elif obj.tag == 0x45:
                identity = replace(identity, cin=obj.value)
            else:
                raise SWError(SW.REFERENCED_DATA_NOT_FOUND,
                              f"the ISD does not store tag {obj.tag:X}")
        self.set_identity(identity)
