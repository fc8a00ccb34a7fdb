"""The issuer security domain (ISD): GlobalPlatform secure channel and card management.

Theory of operation
-------------------
Every command goes through :meth:`IssuerSecurityDomain.process`:

1. a command that carries secure messaging is unwrapped by the channel's session
   (:func:`.channel.unwrap`; failure → 6982 and the session is gone) — before anything
   can refuse it, so the MAC chaining value and the counter advance exactly as on the
   host even when the command is then refused. EXTERNAL AUTHENTICATE is passed on as it
   came: its C-MAC is the pending handshake's, which its handler verifies;
2. the card life cycle state may forbid it (:func:`.access.check_card_state`, 6985);
3. the command's security requirement is checked (:mod:`.access`, 6982);
4. the handler bound to the command's spec runs, with the fields the spec parsed
   (INITIALIZE UPDATE, EXTERNAL AUTHENTICATE and GET DATA here, content and key
   management in the mixins);
5. the answer gets R-MAC / R-ENC if the session's level asks for them.

INITIALIZE UPDATE answers with a card challenge (pseudo-random from the sequence
counter when the i parameter says so) and then advances the persistent counter.
A wrong host cryptogram answers 6300, a wrong C-MAC on EXTERNAL AUTHENTICATE 6982;
both count against the key set, and after ``max_auth_failures`` consecutive failures
INITIALIZE UPDATE with that key set answers 6983 until PUT KEY replaces it. Every
EXTERNAL AUTHENTICATE counts before it compares and a success resets the count, so
tearing the card never buys a free guess (as a PIN check, :mod:`cardlib.pin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from apdu_specs.caches import pure_cache
from apdu_specs.commands.globalplatform import (
    DELETE,
    EXTERNAL_AUTHENTICATE,
    GET_STATUS,
    INITIALIZE_UPDATE,
    INSTALL,
    SET_STATUS,
)
from apdu_specs.commands.gp_extra import (
    GET_DATA_INTERINDUSTRY,
    KEY_TYPES,
    KeyInfo,
    build_card_recognition,
    encode_key_information,
)
from apdu_specs.commands.iso7816 import GET_DATA
from apdu_specs.crypto.errors import (
    CryptoError,
    CryptogramError,
    DataLengthError,
    FormatError,
    MACError,
    SecurityLevelError,
)
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import TLV, parse_tlvs
from cardlib.applet import APDUContext, Response, handles
from cardlib.registry import LoadFile, register_load_file

from ._content import chip_content
from .access import access_for, check_card_state
from .channel import check_requirement, state_in, unwrap, wrap
from .constants import ISD_LOAD_FILE_AID, ISD_MODULE_AID
from .content_commands import ContentCommands
from .identity import CardIdentity
from .key_commands import KeyCommands
from .keystore import KeySet
from .profile import ISDProfile
from .protocols import counter_limit, dek_for, new_handshake

__all__ = ["ISD_LOAD_FILE", "IssuerSecurityDomain"]


class IssuerSecurityDomain(ContentCommands, KeyCommands):
    """The GlobalPlatform ISD of one chip."""

    title: ClassVar[str] = "issuer security domain"
    multiselectable: ClassVar[bool] = True
    #: same on every card of a run (DELETE KEY shares DELETE's INS: its fields are read only)
    shared_parse_ins: ClassVar[frozenset[int]] = frozenset(
        spec.ins for spec in (INSTALL, GET_STATUS, SET_STATUS, DELETE, GET_DATA))

    # --- manufacture ---------------------------------------------------------------------
    def configure(self, *, profile: ISDProfile, keysets: Sequence[KeySet],
                  identity: CardIdentity, sequence_counter: int = 0) -> None:
        """Write the factory configuration (profile, key sets, identity, counter)."""
        if not keysets:
            raise ValueError("an ISD needs at least one key set")
        for keyset in keysets:
            if keyset.keys.algorithm is not profile.suite.algorithm:
                raise ValueError(f"key set {keyset.kvn:02X} is {keyset.keys.algorithm.value}, "
                                 f"the profile's suite is {profile.suite.value}")
        if not 0 <= sequence_counter <= counter_limit(profile):
            raise ValueError(f"sequence counter {sequence_counter} out of range")
        self.store.set("profile", profile.to_value())
        self.set_identity(identity)
        store = self.keystore
        for kvn in store.versions():
            store.delete(kvn)
        for keyset in keysets:
            store.put(keyset)
        store.set_sequence_counter(sequence_counter)

    # --- selection ----------------------------------------------------------------------
    def select(self, ctx: APDUContext) -> bytes:
        self.channels.reset(ctx.channel)
        profile = self.profile
        return _fci(self.aid, profile.suite.scp, profile.i_parameter)

    # --- the one entry point -------------------------------------------------------------
    def process(self, ctx: APDUContext) -> Response | bytes | None:
        env = self.env
        state = state_in(env.ram, ctx.channel)
        apdu = ctx.apdu
        ins = apdu.ins
        content = chip_content(env)
        access = access_for(ins)
        requirement = access.requirement
        if access.own_mac and apdu.cla & 0x80:
            plain = ctx  # its C-MAC is the pending handshake's: the handler verifies it
        else:
            plain = unwrap(state, ctx, requirement)  # first: the MAC chain advances anyway
        check_card_state(content.card_state, ins)
        check_requirement(state, requirement)
        try:
            result = super().process(plain)
        except SWError as exc:
            if exc.sw >> 8 not in (0x62, 0x63):
                raise
            result = Response(b"", exc.sw)
        if not plain.secure:
            return result  # nothing to add to the answer of a plain command
        if type(result) is bytes:  # the usual answer: data and 9000
            return wrap(state, result, 0x9000)
        response = result if isinstance(result, Response) else Response(bytes(result or b""))
        data = wrap(state, response.data, response.sw)
        return response if data is response.data else Response(data, response.sw)

    # --- secure channel ------------------------------------------------------------------
    @handles(INITIALIZE_UPDATE)
    def initialize_update(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        state = self.channel_state(ctx)
        state.drop_session()
        profile, store = self.profile, self.keystore
        keyset = store.select(fields["key_version"])
        if keyset is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"no key set {fields['key_version']:02X}")
        if store.failures(keyset.kvn) >= profile.max_auth_failures:
            raise SWError(SW.AUTH_METHOD_BLOCKED, f"key set {keyset.kvn:02X} locked")
        counter = store.sequence_counter
        if counter > counter_limit(profile):
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "sequence counter exhausted")
        handshake = new_handshake(profile, keyset, kdd=self.identity.kdd, counter=counter,
                                  sd_aid=self.aid, random=self.env.random)
        try:
            answer = handshake.respond_initialize_update(fields["data"]["host_challenge"])
        except DataLengthError as exc:
            raise SWError(SW.WRONG_LENGTH, str(exc)) from None
        store.set_sequence_counter(counter + 1)
        state.handshake, state.handshake_kvn = handshake, keyset.kvn
        state.handshake_counter = counter
        return answer

    @handles(EXTERNAL_AUTHENTICATE)
    def external_authenticate(self, ctx: APDUContext, fields: dict[str, Any]) -> Response:
        """Open the session the pending handshake prepared, if the host's C-MAC and
        cryptogram verify; every attempt uses the handshake up.

        The attempt counts against the key set *first*, as the command's first persistent
        write, and is compared only then: a tear shows nothing the count has not paid for.
        A wrong C-MAC (6982) or cryptogram (6300) keeps the count; success resets it with
        the command; a command refused for its form, before anything was compared, gets
        its count back."""
        state = self.channel_state(ctx)
        handshake, kvn = state.handshake, state.handshake_kvn
        state.drop_session()
        if handshake is None:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "no INITIALIZE UPDATE before")
        store = self.keystore
        before = store.failures(kvn)
        store.record_failure(kvn)  # first: a tear from here on keeps it
        try:
            session = handshake.verify_external_authenticate(ctx.apdu.cla, fields)
        except MACError:
            raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED, "EXTERNAL AUTHENTICATE C-MAC") from None
        except CryptogramError:
            return Response(b"", SW.NVM_CHANGED)
        except CryptoError as exc:  # raised before any comparison: not a guess
            store.restore_failures(kvn, before)
            raise _refused_form(exc) from None
        keyset = store.get(kvn)
        if keyset is None:  # deleted on another channel in between
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"key set {kvn:02X} is gone")
        store.clear_failures(kvn)
        state.session, state.kvn = session, kvn
        state.dek = dek_for(self.profile, keyset, state.handshake_counter)
        return Response()

    # --- GET DATA ------------------------------------------------------------------------
    @handles(GET_DATA)
    @handles(GET_DATA_INTERINDUSTRY)
    def get_data(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        tag = (fields["tag_high"] << 8) | fields["tag_low"]
        identity, profile = self.identity, self.profile
        if tag == 0x9F7F:
            return TLV.build(0x9F7F, identity.cplc).encode()
        if tag == 0x0066:
            return build_card_recognition(scp=profile.suite.scp, i_parameter=profile.i_parameter)
        if tag == 0x00E0:
            return encode_key_information(self._key_information())
        if tag == 0x0042 and identity.iin is not None:
            return TLV.build(0x42, identity.iin).encode()
        if tag == 0x0045 and identity.cin is not None:
            return TLV.build(0x45, identity.cin).encode()
        raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"no data object {tag:04X}")

    def _key_information(self) -> list[KeyInfo]:
        store, out = self.keystore, []
        for kvn in store.versions():
            keyset = store.get(kvn)
            assert keyset is not None
            key_type = KEY_TYPES[keyset.keys.algorithm]
            out += [KeyInfo(key_id, kvn, key_type, len(keyset.keys.enc)) for key_id in (1, 2, 3)]
        return out


def _refused_form(exc: CryptoError) -> SWError:
    """The answer to an EXTERNAL AUTHENTICATE the handshake refused for its form."""
    if isinstance(exc, SecurityLevelError):
        return SWError(SW.INCORRECT_P1P2, str(exc))
    if isinstance(exc, FormatError | DataLengthError):
        return SWError(SW.WRONG_LENGTH, str(exc))
    return SWError(SW.SECURITY_STATUS_NOT_SATISFIED, str(exc))


@pure_cache(maxsize=64)
def _fci(aid: bytes, scp: int, i_parameter: int) -> bytes:
    """The ISD's FCI: AID and card recognition data (a pure function of its inputs)."""
    recognition = parse_tlvs(build_card_recognition(scp=scp, i_parameter=i_parameter))[0]
    proprietary = TLV.build(0xA5, [*recognition.children, TLV.build(0x9F65, b"\xff")])
    return TLV.build(0x6F, [TLV.build(0x84, aid), proprietary]).encode()


ISD_LOAD_FILE = register_load_file(LoadFile(ISD_LOAD_FILE_AID, "dualcard issuer security domain",
                                            {ISD_MODULE_AID: IssuerSecurityDomain}))
