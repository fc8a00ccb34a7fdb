"""SCP02 mutual authentication: INITIALIZE UPDATE and EXTERNAL AUTHENTICATE, both ends.

The structure mirrors :mod:`apdu_specs.crypto.scp03.handshake`: the host checks the card
cryptogram and builds EXTERNAL AUTHENTICATE (host cryptogram, C-MAC from a zero ICV);
the card answers INITIALIZE UPDATE and verifies EXTERNAL AUTHENTICATE. Both get an
:class:`SCP02Session` whose ICV follows the C-MAC of EXTERNAL AUTHENTICATE. The commands
and the 28-byte answer are encoded and decoded by their command specs, as for SCP03.
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
)
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.mac import check_mac
from apdu_specs.crypto.scp02.keys import (
    CARD_CHALLENGE_LENGTH,
    HOST_CHALLENGE_LENGTH,
    SCP02SessionKeys,
    card_cryptogram,
    derive_session_keys,
    host_cryptogram,
)
from apdu_specs.crypto.scp02.session import SCP02_SECURITY_LEVELS, SCP02Session
from apdu_specs.crypto.scp03.params import SecurityLevel
from apdu_specs.crypto.secure_messaging import header_bytes, secure_messaging_cla

__all__ = ["SCP02CardHandshake", "SCP02HostHandshake", "SCP02InitializeUpdateResponse"]

SCP02_ID = 0x02

RandomSource = Callable[[int], bytes]


@dataclass(frozen=True)
class SCP02InitializeUpdateResponse:
    """KDD(10) | KVN | 02 | sequence counter(2) | card challenge(6) | card cryptogram(8):
    the fields the INITIALIZE UPDATE spec decodes (:meth:`parse`) and encodes, typed."""

    kdd: bytes
    kvn: int
    sequence_counter: int
    card_challenge: bytes
    card_cryptogram: bytes

    def fields(self) -> dict[str, Any]:
        """The answer's fields as the INITIALIZE UPDATE spec names them."""
        return {"key_diversification_data": self.kdd, "key_version": self.kvn, "scp": SCP02_ID,
                "sequence_counter": self.sequence_counter,
                "card_challenge": self.card_challenge, "card_cryptogram": self.card_cryptogram}

    def encode(self) -> bytes:
        """The 28 response bytes."""
        return encode_answer(self.fields())

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> SCP02InitializeUpdateResponse:
        """The answer the spec decoded into ``fields``; :class:`FormatError` unless SCP02."""
        if fields.get("scp") != SCP02_ID:
            raise FormatError(f"response announces SCP{fields.get('scp', 0):02X}, not SCP02")
        return cls(kdd=fields["key_diversification_data"], kvn=fields["key_version"],
                   sequence_counter=fields["sequence_counter"],
                   card_challenge=fields["card_challenge"],
                   card_cryptogram=fields["card_cryptogram"])

    @classmethod
    def parse(cls, data: bytes) -> SCP02InitializeUpdateResponse:
        """Decode response data (without SW); raise :class:`FormatError` if malformed."""
        return cls.from_fields(answer_fields(data))


def _bootstrap(keys: SCP02SessionKeys, icv_encryption: bool) -> SCP02Session:
    return SCP02Session(keys, SecurityLevel.C_MAC, icv_encryption=icv_encryption)


class SCP02HostHandshake:
    """Host end of the SCP02 handshake."""

    def __init__(
        self,
        static_keys: StaticKeys,
        *,
        kvn: int = 0x00,
        host_challenge: bytes | None = None,
        random: RandomSource = os.urandom,
        icv_encryption: bool = True,
        cla: int = 0x80,
    ) -> None:
        if host_challenge is None:
            host_challenge = random(HOST_CHALLENGE_LENGTH)
        if len(host_challenge) != HOST_CHALLENGE_LENGTH:
            raise DataLengthError(f"SCP02 host challenge must be {HOST_CHALLENGE_LENGTH} bytes")
        header_bytes(kvn, cla)
        self.host_challenge = bytes(host_challenge)
        self._static = static_keys
        self._kvn = kvn
        self._icv_encryption = icv_encryption
        self._cla = cla
        self._response: SCP02InitializeUpdateResponse | None = None
        self._keys: SCP02SessionKeys | None = None

    def initialize_update_command(self) -> bytes:
        """``CLA 50 KVN 00 08 host_challenge 00``, as the spec builds it."""
        return initialize_update(self._cla, self._kvn, self.host_challenge)

    def process_initialize_update_response(self, data: bytes) -> SCP02InitializeUpdateResponse:
        """Parse the response, derive the session keys and verify the card cryptogram."""
        return self.check_response(SCP02InitializeUpdateResponse.parse(data))

    def check_response(
        self, response: SCP02InitializeUpdateResponse
    ) -> SCP02InitializeUpdateResponse:
        """:meth:`process_initialize_update_response` for a response already parsed (the
        caller needed its KDD to find the card's keys first)."""
        keys = derive_session_keys(self._static, response.sequence_counter)
        expected = card_cryptogram(keys, self.host_challenge, response.card_challenge)
        check_mac(expected, response.card_cryptogram, what="card cryptogram", error=CryptogramError)
        self._response, self._keys = response, keys
        return response

    def external_authenticate(self, level: SecurityLevel | int) -> tuple[bytes, SCP02Session]:
        """The EXTERNAL AUTHENTICATE APDU and the session it opens once the card says 9000."""
        if self._response is None or self._keys is None:
            raise SecureChannelError("INITIALIZE UPDATE response not processed yet")
        level = SecurityLevel.parse(int(level), SCP02_SECURITY_LEVELS)
        cryptogram = host_cryptogram(self._keys, self.host_challenge, self._response.card_challenge)
        bootstrap = _bootstrap(self._keys, self._icv_encryption)
        cla, data = bootstrap.protect_command(
            self._cla, EXTERNAL_AUTHENTICATE_INS, int(level), 0x00, cryptogram
        )
        apdu = external_authenticate(cla, int(level), cryptogram, data[len(cryptogram):])
        session = SCP02Session(
            self._keys, level, bootstrap.icv, icv_encryption=self._icv_encryption
        )
        return apdu, session


class SCP02CardHandshake:
    """Card end of the SCP02 handshake."""

    def __init__(
        self,
        static_keys: StaticKeys,
        *,
        kdd: bytes,
        kvn: int,
        sequence_counter: int,
        card_challenge: bytes | None = None,
        random: RandomSource = os.urandom,
        icv_encryption: bool = True,
    ) -> None:
        if len(kdd) != 10:
            raise DataLengthError(f"KDD must be 10 bytes, got {len(kdd)}")
        header_bytes(kvn)
        self._static = static_keys
        self._kdd = bytes(kdd)
        self._kvn = kvn
        self._counter = sequence_counter
        self._card_challenge = card_challenge
        self._random = random
        self._icv_encryption = icv_encryption
        self._host_challenge: bytes | None = None
        self._response: SCP02InitializeUpdateResponse | None = None
        self._keys: SCP02SessionKeys | None = None

    def respond_initialize_update(self, host_challenge: bytes) -> bytes:
        """The INITIALIZE UPDATE response data (without SW)."""
        challenge = self._card_challenge
        if challenge is None:
            challenge = self._random(CARD_CHALLENGE_LENGTH)
        keys = derive_session_keys(self._static, self._counter)
        self._response = SCP02InitializeUpdateResponse(
            kdd=self._kdd,
            kvn=self._kvn,
            sequence_counter=self._counter,
            card_challenge=bytes(challenge),
            card_cryptogram=card_cryptogram(keys, host_challenge, challenge),
        )
        self._host_challenge, self._keys = bytes(host_challenge), keys
        return self._response.encode()

    def verify_external_authenticate(self, cla: int, fields: Mapping[str, Any]) -> SCP02Session:
        """Verify EXTERNAL AUTHENTICATE, given as the CLA it came with and the ``fields``
        its spec parsed; the session it opens, or a typed error."""
        keys, host_challenge, response = self._keys, self._host_challenge, self._response
        self._keys = self._host_challenge = self._response = None
        if keys is None or host_challenge is None or response is None:
            raise SecureChannelError("EXTERNAL AUTHENTICATE without INITIALIZE UPDATE")
        p1, cryptogram, mac = external_authenticate_fields(fields)
        if cla != secure_messaging_cla(cla) or len(cryptogram) != 8 or len(mac) != 8:
            raise FormatError("EXTERNAL AUTHENTICATE must carry an 8-byte cryptogram and C-MAC")
        level = SecurityLevel.parse(p1, SCP02_SECURITY_LEVELS)
        bootstrap = _bootstrap(keys, self._icv_encryption)
        received = bootstrap.unprotect_command(cla, EXTERNAL_AUTHENTICATE_INS, p1, 0x00,
                                               cryptogram + mac)
        expected = host_cryptogram(keys, host_challenge, response.card_challenge)
        check_mac(expected, received, what="host cryptogram", error=CryptogramError)
        return SCP02Session(keys, level, bootstrap.icv, icv_encryption=self._icv_encryption)
