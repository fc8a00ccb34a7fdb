"""SCP02 secure messaging (C-MAC and C-DECRYPTION) shared by the card and the host.

Theory of operation
-------------------
The C-MAC is ISO/IEC 9797-1 MAC algorithm 3 (single DES with ``C-MAC[0:8]``, final 3DES
with the right half), padding method 2, over ``CLA' INS P1 P2 Lc' || plain data`` where
CLA' has bit 0x04 set and Lc' counts the plain data plus the 8-byte MAC. It is chained
through the ICV: the first ICV (EXTERNAL AUTHENTICATE) is zero; each later ICV is the
previous C-MAC, encrypted with single DES under ``C-MAC[0:8]`` when ICV encryption is on
(the usual i = 15 / 55 option). With C-DECRYPTION a non-empty data field is padded with
method 2 and encrypted with ``3DES-CBC(S-ENC, IV 0)`` after the MAC was computed.

Response protection (R-MAC) is not supported: the accepted security levels are
00, 01 and 03, and responses pass through unchanged.
"""

from __future__ import annotations

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher
from apdu_specs.crypto.errors import (
    CryptoError,
    DataLengthError,
    FormatError,
    MACError,
    SecureChannelError,
)
from apdu_specs.crypto.mac import check_mac, retail_mac
from apdu_specs.crypto.padding import pad_method2, unpad_method2
from apdu_specs.crypto.scp02.keys import SCP02SessionKeys
from apdu_specs.crypto.scp03.params import SecurityLevel
from apdu_specs.crypto.secure_messaging import (
    SecureMessagingSession,
    check_status_word,
    has_secure_messaging,
    header_bytes,
    mac_cla,
    secure_messaging_cla,
)

__all__ = ["SCP02_SECURITY_LEVELS", "SCP02Session"]

SCP02_SECURITY_LEVELS = frozenset({0x00, 0x01, 0x03})
MAC_LENGTH = 8


class SCP02Session(SecureMessagingSession):
    """Sans-I/O SCP02 secure messaging state for one end of an open secure channel."""

    def __init__(
        self,
        keys: SCP02SessionKeys,
        security_level: SecurityLevel,
        icv: bytes = bytes(8),
        *,
        icv_encryption: bool = True,
    ) -> None:
        if len(icv) != 8:
            raise DataLengthError("SCP02 ICV must be 8 bytes")
        self._keys = keys
        self._level = SecurityLevel.parse(int(security_level), SCP02_SECURITY_LEVELS)
        self._icv = bytes(icv)
        self._icv_encryption = icv_encryption
        self._closed = False
        # the session owns its ciphers: they go when it ends
        self._enc = BlockCipher(Algorithm.TDES, keys.s_enc)
        self._icv_cipher = BlockCipher(Algorithm.DES, keys.c_mac[:8])
        self._c_mac = (self._icv_cipher, BlockCipher(Algorithm.DES, keys.c_mac[8:]))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"SCP02Session(level={self._level.value:02X}, {state})"

    @property
    def security_level(self) -> SecurityLevel:
        """The level set by EXTERNAL AUTHENTICATE."""
        return self._level

    @property
    def protects_commands(self) -> bool:
        """True if commands carry a C-MAC at this level."""
        return bool(self._level & SecurityLevel.C_MAC)

    @property
    def protects_responses(self) -> bool:
        """Always False: responses are not protected in SCP02 here."""
        return False

    @property
    def icv(self) -> bytes:
        """The ICV the next C-MAC will start from."""
        return self._icv

    def _chain_mac(self, cla: int, ins: int, p1: int, p2: int, plain: bytes) -> bytes:
        header = header_bytes(mac_cla(cla), ins, p1, p2, len(plain) + MAC_LENGTH)
        return retail_mac(self._c_mac, header + plain, iv=self._icv)

    def _advance(self, mac: bytes) -> None:
        self._icv = self._icv_cipher.encrypt_ecb(mac) if self._icv_encryption else mac

    def protect_command(
        self, cla: int, ins: int, p1: int, p2: int, data: bytes
    ) -> tuple[int, bytes]:
        """Host: the transmitted CLA and data field (C-MAC, encrypted data)."""
        self._require_open()
        header_bytes(cla, ins, p1, p2)
        if not self.protects_commands:
            return cla, data
        tx_cla = secure_messaging_cla(cla)
        encrypt = bool(data) and bool(self._level & SecurityLevel.C_DECRYPTION)
        sent_length = (len(data) // 8 + 1) * 8 if encrypt else len(data)
        if sent_length + MAC_LENGTH > 255:
            raise FormatError(f"{len(data)} data bytes do not fit a short APDU once protected")
        mac = self._chain_mac(cla, ins, p1, p2, data)
        self._advance(mac)
        if encrypt:
            data = self._enc.encrypt_cbc(pad_method2(data, 8))
        return tx_cla, data + mac

    def unprotect_command(self, cla: int, ins: int, p1: int, p2: int, data: bytes) -> bytes:
        """Card: decrypt and verify the C-MAC; returns the plain data field."""
        self._require_open()
        header_bytes(cla, ins, p1, p2)
        if not self.protects_commands:
            if has_secure_messaging(cla):
                raise SecureChannelError("command carries secure messaging; the level has none")
            return data
        if not has_secure_messaging(cla):
            raise self._fail(SecureChannelError(f"CLA {cla:02X} lacks the C-MAC this level needs"))
        if len(data) < MAC_LENGTH:
            raise self._fail(MACError(f"data field of {len(data)} bytes has no room for a C-MAC"))
        body, received = data[:-MAC_LENGTH], data[-MAC_LENGTH:]
        try:
            if body and self._level & SecurityLevel.C_DECRYPTION:
                body = unpad_method2(self._enc.decrypt_cbc(body), 8)
            expected = self._chain_mac(cla, ins, p1, p2, body)
            check_mac(expected, received, what="C-MAC")
        except CryptoError as error:
            raise self._fail(error) from None
        self._advance(expected)
        return body

    def protect_response(self, data: bytes, sw: int) -> bytes:
        """Card: responses are not protected in SCP02 here."""
        self._require_open()
        check_status_word(sw)
        return data

    def unprotect_response(self, body: bytes, sw: int) -> bytes:
        """Host: responses are not protected in SCP02 here."""
        self._require_open()
        check_status_word(sw)
        return body
