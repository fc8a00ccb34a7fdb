"""Opening a GlobalPlatform secure channel, sans I/O (style lesson 1).

:func:`secure_channel_flow` is a generator: it yields command APDUs (bytes) and is sent
the raw responses (data ‖ SW); its return value is the open :class:`SecureChannel`. Any
transport runs it with :func:`run_flow`, and a test can drive it by hand with fixed
challenges to replay published vectors.

The flow:

1. INITIALIZE UPDATE with the host challenge (8 bytes in S8 mode). A card in S16 mode
   answers 6700; with ``mode=None`` (automatic) the flow retries once with 16 bytes.
2. The response, decoded by the INITIALIZE UPDATE spec in the layout of the protocol it
   names (SCP02 or SCP03), gives the key version and the KDD; the card's static keys
   follow from the key spec (diversified with the KDD if asked) and the card cryptogram
   is checked. A mismatch raises :class:`AuthenticationError` and
   EXTERNAL AUTHENTICATE is *not* sent: the host never spends one of the card's tries on
   keys it already knows are wrong.
3. EXTERNAL AUTHENTICATE with the host cryptogram at the requested security level;
   anything but 9000 raises :class:`AuthenticationError`.

Which algorithm: SCP02 means 3DES; SCP03 means AES unless the caller says SM4 (GP has
no field that tells them apart).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from apdu_specs.apdu import CLA, CommandAPDU
from apdu_specs.commands.globalplatform import INITIALIZE_UPDATE
from apdu_specs.commands.gp_extra import encode_key_component, encrypt_sensitive
from apdu_specs.crypto.ciphers import Algorithm, BlockCipher
from apdu_specs.crypto.errors import CryptoError, CryptogramError
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.scp02 import SCP02HostHandshake, SCP02InitializeUpdateResponse
from apdu_specs.crypto.scp02 import derive_session_keys as scp02_session_keys
from apdu_specs.crypto.scp03 import (
    HostHandshake,
    InitializeUpdateResponse,
    SCP03Mode,
    SecurityLevel,
)
from apdu_specs.crypto.secure_messaging import SecureMessagingSession
from apdu_specs.errors import SpecError
from apdu_specs.sw import CardError, describe

from .errors import AuthenticationError, ResponseError, UnknownKeySetError
from .keyspec import KeySpec

__all__ = [
    "ChannelOptions",
    "Flow",
    "SecureChannel",
    "card_authentication_flow",
    "run_flow",
    "secure_channel_flow",
]

Flow = Generator[bytes, bytes, Any]

_SCP02 = 0x02
_SCP03 = 0x03


@dataclass(frozen=True)
class ChannelOptions:
    """What to ask for: security level, key version, algorithm, S8/S16, logical channel."""

    level: int = SecurityLevel.C_MAC
    kvn: int = 0x00
    #: ``Algorithm.SM4`` for an SM4 card; ``None``: 3DES for SCP02, AES for SCP03
    algorithm: Algorithm | None = None
    #: ``None``: S8, retried in S16 when the card asks for it (6700)
    mode: SCP03Mode | None = None
    channel: int = 0

    @property
    def cla(self) -> int:
        return CLA.encode(channel=self.channel, proprietary=True)


class SecureChannel:
    """An open secure channel: wraps commands, unwraps responses, encrypts under the DEK."""

    def __init__(self, session: SecureMessagingSession, *, scp: int, kvn: int, kdd: bytes,
                 sequence_counter: int | None, i_parameter: int | None, static: StaticKeys,
                 options: ChannelOptions) -> None:
        self.session = session
        self.scp = scp
        self.kvn = kvn
        self.kdd = kdd
        self.sequence_counter = sequence_counter
        self.i_parameter = i_parameter
        self.static = static
        self.options = options
        # the DEK's cipher: the channel's own for SCP02's session DEK, the key set's for
        # SCP03's static DEK; either goes with its owner
        self._dek: BlockCipher = (
            BlockCipher(Algorithm.TDES, scp02_session_keys(static, sequence_counter or 0).s_dek)
            if scp == _SCP02 else static.cipher("dek"))

    @property
    def level(self) -> int:
        return int(self.session.security_level)

    @property
    def algorithm(self) -> Algorithm:
        return self.static.algorithm

    @property
    def is_open(self) -> bool:
        return self.session.is_open

    def wrap(self, apdu: bytes) -> bytes:
        """Protect a plain command APDU (CLA 80 → 84, C-MAC, encryption per level)."""
        try:
            return self.session.wrap_command(apdu)
        except CryptoError as exc:
            raise ResponseError(f"cannot protect the command: {exc}") from None

    def wrap_apdu(self, apdu: CommandAPDU) -> bytes:
        """:meth:`wrap` of ``apdu.encode()``, without encoding a command only to split it."""
        session = self.session
        if apdu.is_extended or not session.is_open or not session.protects_commands:
            return self.wrap(apdu.encode())  # the general path reports or passes it as is
        try:
            return session.wrap_fields(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data,
                                       apdu.ne is not None)
        except CryptoError as exc:
            raise ResponseError(f"cannot protect the command: {exc}") from None

    def unwrap(self, response: bytes) -> bytes:
        """Verify and decrypt a response (R-MAC, R-ENC per level); the plain data ‖ SW."""
        try:
            return self.session.unwrap_response(response)
        except CryptoError as exc:
            raise ResponseError(f"response protection does not verify: {exc}") from None

    def encrypt_sensitive(self, value: bytes) -> bytes:
        """An encrypted DGI's content, under the DEK (see :mod:`apdu_specs.commands.gp_extra`)."""
        return encrypt_sensitive(self._dek.algorithm, self._dek, value)

    def key_component(self, key: bytes) -> dict[str, object]:
        """One PUT KEY entry for ``key`` (of this channel's algorithm), under the DEK."""
        return encode_key_component(self._dek.algorithm, key, self._dek)

    def dek_value(self) -> bytes:
        """The DEK's value, for an HSM that encrypts card keys under it: SCP03's static DEK
        or SCP02's session DEK (at a first personalisation, derived from the card maker's
        transport keys)."""
        if self.scp == _SCP02:
            return scp02_session_keys(self.static, self.sequence_counter or 0).s_dek
        return self.static.dek

    @property
    def key_algorithm(self) -> Algorithm:
        """The algorithm of keys PUT KEY may carry on this channel."""
        return self._dek.algorithm

    def __repr__(self) -> str:
        return (f"SecureChannel(SCP{self.scp:02X}, kvn={self.kvn:02X}, level={self.level:02X}, "
                f"{self.static!r})")


def _sw(response: bytes) -> int:
    if len(response) < 2:
        raise ResponseError(f"response of {len(response)} byte(s) has no status word")
    return int.from_bytes(response[-2:], "big")


def _init_update_apdu(challenge: bytes, options: ChannelOptions) -> bytes:
    return INITIALIZE_UPDATE.build(key_version=options.kvn, data={"host_challenge": challenge},
                                   cla=options.cla).encode()


def _answer_fields(data: bytes) -> dict[str, Any]:
    """The INITIALIZE UPDATE answer decoded by its spec (the layout of the SCP it names)."""
    try:
        fields: dict[str, Any] = INITIALIZE_UPDATE.parse_response(data)
    except SpecError as exc:
        raise ResponseError(f"INITIALIZE UPDATE answer of {len(data)} bytes: {exc}") from None
    return fields


def _refusal(sw: int, kvn: int) -> Exception:
    if sw == 0x6A88:
        return UnknownKeySetError(f"the card has no key set {kvn:02X} (6A88)")
    if sw == 0x6983:
        return AuthenticationError("the key set is blocked after too many failed authentications "
                                   "(6983)")
    return CardError(sw, "INITIALIZE UPDATE")


def _initialize(keys: KeySpec, options: ChannelOptions, host_challenge: bytes | None,
                random: Callable[[int], bytes]) -> Generator[bytes, bytes, tuple[int, Any,
                                                                           StaticKeys, dict[str, Any]]]:
    """INITIALIZE UPDATE (retried in S16 if asked for) and the card cryptogram check."""
    mode = options.mode or SCP03Mode.S8
    challenge = host_challenge if host_challenge is not None else random(int(mode))
    response = yield _init_update_apdu(challenge, options)
    sw = _sw(response)
    if sw == 0x6700 and options.mode is None and host_challenge is None:
        mode = SCP03Mode.S16
        challenge = random(int(mode))
        response = yield _init_update_apdu(challenge, options)
        sw = _sw(response)
    if sw != 0x9000:
        raise _refusal(sw, options.kvn)
    fields = _answer_fields(response[:-2])
    scp = fields["scp"]
    if scp == _SCP02:
        return (scp, *_scp02(keys, options, challenge, fields))
    if scp == _SCP03:
        return (scp, *_scp03(keys, options, mode, challenge, fields))
    raise ResponseError(f"INITIALIZE UPDATE answer names SCP{scp:02X}, which this host lacks")


def secure_channel_flow(keys: KeySpec, options: ChannelOptions | None = None, *,
                        host_challenge: bytes | None = None,
                        random: Callable[[int], bytes] = os.urandom) -> Flow:
    """Yield INITIALIZE UPDATE and EXTERNAL AUTHENTICATE; return the :class:`SecureChannel`."""
    options = options or ChannelOptions()
    scp, handshake, static, details = yield from _initialize(keys, options, host_challenge, random)
    apdu, session = handshake.external_authenticate(options.level)
    response = yield apdu
    sw = _sw(response)
    if sw != 0x9000:
        raise AuthenticationError(
            f"EXTERNAL AUTHENTICATE refused with {sw:04X} ({describe(sw)}); stopped — each "
            "failure counts towards locking the key set")
    return SecureChannel(session, scp=scp, static=static, options=options, **details)


def card_authentication_flow(keys: KeySpec, options: ChannelOptions | None = None, *,
                             host_challenge: bytes | None = None,
                             random: Callable[[int], bytes] = os.urandom) -> Flow:
    """Yield INITIALIZE UPDATE alone: the card proves it holds key set ``options.kvn``.

    Its cryptogram is checked against ``keys`` (:class:`AuthenticationError` if it does
    not match). No session opens and nothing counts against the key set; a session open
    on the channel ends, as any INITIALIZE UPDATE ends it. Returns the KVN, KDD and
    sequence counter the card answered.
    """
    options = options or ChannelOptions()
    _, _, _, details = yield from _initialize(keys, options, host_challenge, random)
    return details


def _check_card(check: Callable[[], object], keys: KeySpec, static: StaticKeys,
                kvn: int) -> None:
    """Run the handshake's card cryptogram ``check``, its failures worded for the operator."""
    try:
        check()
    except CryptogramError:
        raise AuthenticationError(
            f"card cryptogram does not match: wrong keys for key set {kvn:02X} "
            f"({keys.text}, card keys KCV {_kcvs(static)}); stopped without sending "
            "EXTERNAL AUTHENTICATE") from None
    except CryptoError as exc:
        raise ResponseError(f"INITIALIZE UPDATE answer: {exc}") from None


def _kcvs(static: StaticKeys) -> str:
    return "/".join(k.hex().upper() for k in static.kcvs())


def _scp03(keys: KeySpec, options: ChannelOptions, mode: SCP03Mode, challenge: bytes,
           fields: dict[str, Any]) -> tuple[HostHandshake, StaticKeys, dict[str, Any]]:
    parsed = InitializeUpdateResponse.from_fields(fields)
    static = keys.card_keys(parsed.kdd, options.algorithm or Algorithm.AES)
    handshake = HostHandshake(static, kvn=options.kvn, mode=mode, host_challenge=challenge,
                              cla=options.cla)
    _check_card(lambda: handshake.check_response(parsed), keys, static, parsed.kvn)
    return handshake, static, {"kvn": parsed.kvn, "kdd": parsed.kdd,
                               "sequence_counter": parsed.sequence_counter,
                               "i_parameter": parsed.i_parameter}


def _scp02(keys: KeySpec, options: ChannelOptions, challenge: bytes,
           fields: dict[str, Any]) -> tuple[SCP02HostHandshake, StaticKeys, dict[str, Any]]:
    parsed = SCP02InitializeUpdateResponse.from_fields(fields)
    static = keys.card_keys(parsed.kdd, Algorithm.TDES)
    handshake = SCP02HostHandshake(static, kvn=options.kvn, host_challenge=challenge,
                                   cla=options.cla)
    _check_card(lambda: handshake.check_response(parsed), keys, static, parsed.kvn)
    return handshake, static, {"kvn": parsed.kvn, "kdd": parsed.kdd,
                               "sequence_counter": parsed.sequence_counter, "i_parameter": None}


def run_flow(transmit: Callable[[bytes], bytes], flow: Flow) -> Any:
    """Drive ``flow`` over ``transmit`` until it returns; its return value."""
    try:
        command = next(flow)
        while True:
            command = flow.send(transmit(command))
    except StopIteration as done:
        return done.value
