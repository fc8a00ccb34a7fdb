"""SCP03 mutual authentication: INITIALIZE UPDATE and EXTERNAL AUTHENTICATE, both ends.

Theory of operation
-------------------
Host: :class:`HostHandshake` builds INITIALIZE UPDATE with its challenge, checks the
card cryptogram in the response and builds EXTERNAL AUTHENTICATE (host cryptogram plus
C-MAC computed with an all-zero MAC chaining value). Card: :class:`CardHandshake`
answers INITIALIZE UPDATE (pseudo-random or random card challenge, card cryptogram) and
verifies EXTERNAL AUTHENTICATE. Both return an :class:`SCP03Session` whose chaining value
is the C-MAC of EXTERNAL AUTHENTICATE and whose command counter is 0 (EXTERNAL
AUTHENTICATE itself is never encrypted and does not count).

Both commands and the INITIALIZE UPDATE answer are encoded and decoded by their command
specs (:mod:`apdu_specs.commands.globalplatform`), the same ones the card dispatcher reads:
:class:`InitializeUpdateResponse` is the typed view of the fields the spec decodes, and
the card verifies EXTERNAL AUTHENTICATE from the fields its spec parsed.

Challenges and randomness are parameters, so every handshake can be replayed as a vector.
The card's sequence counter is persistent card state: the caller passes the current
value and decides when to increment it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apdu_specs.crypto._gp_apdus import (
    EXTERNAL_AUTHENTICATE_INS,
    answer_fields,
    encode_answer,
    external_authenticate,
    external_authenticate_fields,
    initialize_update,
)
from apdu_specs.crypto.errors import (
    CryptogramError,
    DataLengthError,
    FormatError,
    SecureChannelError,
    SecurityLevelError,
)
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.mac import check_mac
from apdu_specs.crypto.scp03.keys import (
    SessionKeys,
    card_cryptogram,
    derive_session_keys,
    host_cryptogram,
    pseudo_random_card_challenge,
)
from apdu_specs.crypto.scp03.params import IParameter, SCP03Mode, SecurityLevel
from apdu_specs.crypto.scp03.session import SCP03Session
from apdu_specs.crypto.secure_messaging import header_bytes, secure_messaging_cla

__all__ = ["CardHandshake", "HostHandshake", "InitializeUpdateResponse"]

SCP03_ID = 0x03
KDD_LENGTH = 10

RandomSource = Callable[[int], bytes]


@dataclass(frozen=True)
class InitializeUpdateResponse:
    """The SCP03 INITIALIZE UPDATE answer (GPC 2.3 Amendment D §7.1.1.6), typed: the
    fields the command's spec decodes (:meth:`parse`) and encodes (:meth:`encode`)."""

    kdd: bytes
    kvn: int
    i_parameter: int
    card_challenge: bytes
    card_cryptogram: bytes
    sequence_counter: int | None = None

    def __post_init__(self) -> None:
        if len(self.kdd) != KDD_LENGTH:
            raise DataLengthError(f"KDD must be {KDD_LENGTH} bytes, got {len(self.kdd)}")
        header_bytes(self.kvn, self.i_parameter)
        n = self.mode
        if len(self.card_challenge) != n or len(self.card_cryptogram) != n:
            raise DataLengthError(f"{n.name} card challenge and cryptogram are {int(n)} bytes")
        if (self.sequence_counter is None) == bool(self.i_parameter & _PSEUDO_RANDOM):
            raise FormatError("the sequence counter comes with a pseudo-random card challenge "
                              "(i b5), and only with it")
        if self.sequence_counter is not None and not 0 <= self.sequence_counter <= 0xFFFFFF:
            raise FormatError(f"sequence counter {self.sequence_counter} does not fit 3 bytes")

    @property
    def mode(self) -> SCP03Mode:
        """S8 or S16, as the i parameter announces."""
        return SCP03Mode.of(self.i_parameter)

    def fields(self) -> dict[str, Any]:
        """The answer's fields as the INITIALIZE UPDATE spec names them."""
        fields = {"key_diversification_data": self.kdd, "key_version": self.kvn,
                  "scp": SCP03_ID, "i": self.i_parameter, "card_challenge": self.card_challenge,
                  "card_cryptogram": self.card_cryptogram}
        if self.sequence_counter is not None:
            fields["sequence_counter"] = self.sequence_counter
        return fields

    def encode(self) -> bytes:
        """KDD(10) | KVN | 03 | i | card challenge | card cryptogram | [sequence counter(3)]."""
        return encode_answer(self.fields())

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> InitializeUpdateResponse:
        """The answer the spec decoded into ``fields``; :class:`FormatError` unless SCP03."""
        if fields.get("scp") != SCP03_ID:
            raise FormatError(f"response announces SCP{fields.get('scp', 0):02X}, not SCP03")
        response = object.__new__(cls)
        # the spec's layout already fixed every length: nothing for __post_init__ to refuse
        # (both ends read this on every handshake)
        response.__dict__.update(
            kdd=fields["key_diversification_data"], kvn=fields["key_version"],
            i_parameter=fields["i"], card_challenge=fields["card_challenge"],
            card_cryptogram=fields["card_cryptogram"],
            sequence_counter=fields.get("sequence_counter"))
        return response

    @classmethod
    def parse(cls, data: bytes) -> InitializeUpdateResponse:
        """Decode response data (without SW); :class:`FormatError` if malformed."""
        return cls.from_fields(answer_fields(data))


_R_MAC, _R_ENC = SecurityLevel.R_MAC.value, SecurityLevel.R_ENCRYPTION.value
_R_MAC_SUPPORT, _R_ENC_SUPPORT = IParameter.R_MAC_SUPPORT.value, IParameter.R_ENC_SUPPORT.value
_PSEUDO_RANDOM = IParameter.PSEUDO_RANDOM_CHALLENGE.value


def _check_level_supported(level: SecurityLevel, i_parameter: int) -> None:
    bits = int(level)  # plain ints: IntFlag arithmetic is slow on every handshake
    if bits & _R_MAC and not i_parameter & _R_MAC_SUPPORT:
        raise SecurityLevelError("the card does not announce R-MAC support")
    if bits & _R_ENC and not i_parameter & _R_ENC_SUPPORT:
        raise SecurityLevelError("the card does not announce R-ENCRYPTION support")


def _zero_chain(keys: SessionKeys) -> bytes:
    return bytes(keys.algorithm.block_size)


class HostHandshake:
    """Host end of the SCP03 handshake (off-card entity)."""

    def __init__(
        self,
        static_keys: StaticKeys,
        *,
        kvn: int = 0x00,
        mode: SCP03Mode = SCP03Mode.S8,
        host_challenge: bytes | None = None,
        random: RandomSource = os.urandom,
        cla: int = 0x80,
    ) -> None:
        header_bytes(kvn, cla)
        self._static = static_keys
        self._kvn = kvn
        self._mode = SCP03Mode(mode)
        self._cla = cla
        if host_challenge is None:
            host_challenge = random(self._mode)
        if len(host_challenge) != self._mode:
            raise DataLengthError(f"{self._mode.name} host challenge must be {int(self._mode)} bytes")
        self.host_challenge = bytes(host_challenge)
        self._response: InitializeUpdateResponse | None = None
        self._keys: SessionKeys | None = None

    def initialize_update_command(self) -> bytes:
        """``CLA 50 KVN 00 Lc host_challenge 00``, as the spec builds it."""
        return initialize_update(self._cla, self._kvn, self.host_challenge)

    def process_initialize_update_response(self, data: bytes) -> InitializeUpdateResponse:
        """Parse the response, derive the session keys and verify the card cryptogram."""
        return self.check_response(InitializeUpdateResponse.parse(data))

    def check_response(self, response: InitializeUpdateResponse) -> InitializeUpdateResponse:
        """:meth:`process_initialize_update_response` for a response already parsed (the
        caller needed its KDD to find the card's keys first)."""
        if response.mode != self._mode:
            raise FormatError(f"card answered in {response.mode.name}, host asked {self._mode.name}")
        keys = derive_session_keys(self._static, self.host_challenge, response.card_challenge)
        expected = card_cryptogram(keys, self.host_challenge, response.card_challenge)
        check_mac(
            expected,
            response.card_cryptogram,
            what="card cryptogram",
            error=CryptogramError,
        )
        self._response, self._keys = response, keys
        return response

    def external_authenticate(self, level: SecurityLevel | int) -> tuple[bytes, SCP03Session]:
        """The EXTERNAL AUTHENTICATE APDU and the session it opens once the card says 9000."""
        if self._response is None or self._keys is None:
            raise SecureChannelError("INITIALIZE UPDATE response not processed yet")
        level = SecurityLevel.parse(int(level))
        _check_level_supported(level, self._response.i_parameter)
        keys = self._keys
        cryptogram = host_cryptogram(keys, self.host_challenge, self._response.card_challenge)
        bootstrap = SCP03Session(keys, SecurityLevel.C_MAC, self._mode, _zero_chain(keys))
        cla, body = bootstrap.protect_command(
            self._cla, EXTERNAL_AUTHENTICATE_INS, int(level), 0x00, cryptogram
        )
        apdu = external_authenticate(cla, int(level), cryptogram, body[len(cryptogram):])
        session = SCP03Session(keys, level, self._mode, bootstrap.mac_chaining_value)
        return apdu, session


class CardHandshake:
    """Card end of the SCP03 handshake (security domain)."""

    def __init__(
        self,
        static_keys: StaticKeys,
        *,
        kdd: bytes,
        kvn: int,
        sequence_counter: int,
        sd_aid: bytes,
        i_parameter: int = 0x70,
        card_challenge: bytes | None = None,
        random: RandomSource = os.urandom,
    ) -> None:
        if len(kdd) != KDD_LENGTH:
            raise DataLengthError(f"KDD must be {KDD_LENGTH} bytes, got {len(kdd)}")
        header_bytes(kvn, i_parameter)
        self._static = static_keys
        self._kdd = bytes(kdd)
        self._kvn = kvn
        self._i = i_parameter
        self._mode = SCP03Mode.of(i_parameter)
        self._counter = sequence_counter
        self._sd_aid = bytes(sd_aid)
        self._card_challenge = card_challenge
        self._random = random
        self._host_challenge: bytes | None = None
        self._response: InitializeUpdateResponse | None = None
        self._keys: SessionKeys | None = None

    def _challenge(self) -> bytes:
        if self._card_challenge is not None:
            challenge = bytes(self._card_challenge)
        elif self._i & _PSEUDO_RANDOM:
            challenge = pseudo_random_card_challenge(
                self._static, self._counter, self._sd_aid, self._mode
            )
        else:
            challenge = self._random(self._mode)
        if len(challenge) != self._mode:
            raise DataLengthError(f"{self._mode.name} card challenge must be {int(self._mode)} bytes")
        return challenge

    def respond_initialize_update(self, host_challenge: bytes) -> bytes:
        """The INITIALIZE UPDATE response data (without SW)."""
        if len(host_challenge) != self._mode:
            raise DataLengthError(
                f"{self._mode.name} host challenge must be {int(self._mode)} bytes, "
                f"got {len(host_challenge)}"
            )
        challenge = self._challenge()
        keys = derive_session_keys(self._static, host_challenge, challenge)
        with_counter = bool(self._i & _PSEUDO_RANDOM)
        self._response = InitializeUpdateResponse(
            kdd=self._kdd,
            kvn=self._kvn,
            i_parameter=self._i,
            card_challenge=challenge,
            card_cryptogram=card_cryptogram(keys, host_challenge, challenge),
            sequence_counter=self._counter if with_counter else None,
        )
        self._host_challenge = bytes(host_challenge)
        self._keys = keys
        return self._response.encode()

    def verify_external_authenticate(self, cla: int, fields: Mapping[str, Any]) -> SCP03Session:
        """Verify EXTERNAL AUTHENTICATE, given as the CLA it came with and the ``fields``
        its spec parsed; the session it opens, or a typed error.

        Raises :class:`MACError` for a wrong C-MAC, :class:`CryptogramError` for a wrong
        host cryptogram and :class:`SecurityLevelError` for a level the card refuses.
        Whatever the outcome, the handshake is used up.
        """
        keys, host_challenge, response = self._keys, self._host_challenge, self._response
        self._keys = self._host_challenge = self._response = None
        if keys is None or host_challenge is None or response is None:
            raise SecureChannelError("EXTERNAL AUTHENTICATE without INITIALIZE UPDATE")
        p1, cryptogram, mac = external_authenticate_fields(fields)
        if cla != secure_messaging_cla(cla) or len(cryptogram) != self._mode \
                or len(mac) != self._mode:
            raise FormatError("EXTERNAL AUTHENTICATE must carry a cryptogram and a C-MAC "
                              f"of {int(self._mode)} bytes each")
        level = SecurityLevel.parse(p1)
        _check_level_supported(level, self._i)
        bootstrap = SCP03Session(keys, SecurityLevel.C_MAC, self._mode, _zero_chain(keys))
        received = bootstrap.unprotect_command(cla, EXTERNAL_AUTHENTICATE_INS, p1, 0x00,
                                               cryptogram + mac)
        expected = host_cryptogram(keys, host_challenge, response.card_challenge)
        check_mac(
            expected,
            received,
            what="host cryptogram",
            error=CryptogramError,
        )
        return SCP03Session(keys, level, self._mode, bootstrap.mac_chaining_value)

