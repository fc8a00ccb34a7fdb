"""The SCP03 secure messaging state shared by the card and the host.

Theory of operation
-------------------
After EXTERNAL AUTHENTICATE both ends hold the same :class:`SCP03Session`: the session
keys, the security level, the MAC chaining value (MCV, the full C-MAC of the last
command, starting with the C-MAC of EXTERNAL AUTHENTICATE) and the command counter
(0 after EXTERNAL AUTHENTICATE, incremented once per protected command). The host calls
:meth:`~SCP03Session.wrap_command` and :meth:`~SCP03Session.unwrap_response`; the card
calls :meth:`~SCP03Session.unwrap_command` and :meth:`~SCP03Session.wrap_response`
(or the field-level ``protect_*``/``unprotect_*`` forms). Used in that order the two
states stay equal, which is what the round-trip tests check.

Command (GPC 2.3 Amendment D §6.2.4–6.2.6), when the level has C-MAC:

- counter += 1 (also for commands without data);
- with C-DECRYPTION and a non-empty data field:
  ``data' = CBC(S-ENC, ICV, pad2(data))`` with ``ICV = ECB(S-ENC, counter as one block)``;
- ``MCV = CMAC(S-MAC, MCV || CLA' INS P1 P2 Lc' || data')`` where CLA' has the channel
  bits zeroed and bit 0x04 set, Lc' counts data' and the MAC;
- the first 8 (S8) or 16 (S16) bytes of the MCV are appended; a present Le is sent as 00.

Response (§6.2.7), when the level has R-MAC and the status word is 9000, 62xx or 63xx
(a response with any other status word is that status word alone, without data):

- with R-ENCRYPTION and non-empty data: ``data' = CBC(S-ENC, ICV', pad2(data))`` with
  ``ICV' = ECB(S-ENC, 80 || counter in 15 bytes)``;
- ``R-MAC = CMAC(S-RMAC, MCV || data' || SW1 SW2)`` truncated like the C-MAC, appended
  to the data; it does not change the MCV.

Any verification failure (MAC, padding, missing protection) closes the session: every
later call raises :class:`~apdu_specs.crypto.errors.SessionClosedError`, as the card
must drop back to "not authenticated".
"""

from __future__ import annotations

from hmac import compare_digest

from apdu_specs.crypto.ciphers import BlockCipher
from apdu_specs.crypto.errors import (
    CryptoError,
    DataLengthError,
    FormatError,
    MACError,
    SecureChannelError,
)
from apdu_specs.crypto.mac import check_mac
from apdu_specs.crypto.padding import pad_method2, unpad_method2
from apdu_specs.crypto.scp03.keys import SessionKeys
from apdu_specs.crypto.scp03.params import SCP03Mode, SecurityLevel
from apdu_specs.crypto.secure_messaging import (
    SecureMessagingSession,
    check_status_word,
    has_secure_messaging,
    header_bytes,
    is_protected_status,
    mac_cla,
    secure_messaging_cla,
)

__all__ = ["SCP03Session"]

_L = SecurityLevel
_C_MAC, _C_DEC = _L.C_MAC.value, _L.C_DECRYPTION.value
_R_MAC, _R_ENC = _L.R_MAC.value, _L.R_ENCRYPTION.value


class SCP03Session(SecureMessagingSession):
    """Sans-I/O SCP03 secure messaging state for one end of an open secure channel."""

    def __init__(
        self,
        keys: SessionKeys,
        security_level: SecurityLevel,
        mode: SCP03Mode,
        mac_chaining_value: bytes,
        counter: int = 0,
    ) -> None:
        block = keys.algorithm.block_size
        if len(mac_chaining_value) != block:
            raise DataLengthError(f"MAC chaining value must be {block} bytes")
        self._keys = keys
        self._level = (security_level if type(security_level) is SecurityLevel
                       else SecurityLevel(security_level))
        self._mode = mode if type(mode) is SCP03Mode else SCP03Mode(mode)
        self._mcv = bytes(mac_chaining_value)
        self._counter = counter
        self._closed = False
        self._enc = keys.cipher("s_enc")
        self._mac = keys.cipher("s_mac")
        # Plain ints for the per-command hot path (enum arithmetic costs microseconds).
        level = int(self._level)
        self._n = int(self._mode)
        self._block = block
        self._c_mac = bool(level & _C_MAC)
        self._c_dec = bool(level & _C_DEC)
        self._r_mac = bool(level & _R_MAC)
        self._r_enc = bool(level & _R_ENC)
        # S-RMAC only serves R-MAC: its cipher is looked up on first use (never, below R-MAC)
        self._rmac: BlockCipher | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"SCP03Session({self._keys.algorithm.value}, level={self._level.value:02X}, "
            f"{self._mode.name}, counter={self._counter}, {state})"
        )

    # -- state -------------------------------------------------------------------------

    @property
    def security_level(self) -> SecurityLevel:
        """The level set by EXTERNAL AUTHENTICATE."""
        return self._level

    @property
    def protects_commands(self) -> bool:
        """True if commands carry a C-MAC at this level."""
        return self._c_mac

    @property
    def protects_responses(self) -> bool:
        """True if responses carry an R-MAC at this level."""
        return self._r_mac

    @property
    def mode(self) -> SCP03Mode:
        """S8 or S16: the length of the MACs."""
        return self._mode

    @property
    def counter(self) -> int:
        """Number of protected commands since EXTERNAL AUTHENTICATE."""
        return self._counter

    @property
    def mac_chaining_value(self) -> bytes:
        """The full C-MAC of the last command (the MCV)."""
        return self._mcv

    @property
    def keys(self) -> SessionKeys:
        """The session keys (their repr shows KCVs only)."""
        return self._keys

    # -- building blocks ---------------------------------------------------------------

    def _icv(self, response: bool) -> bytes:
        # E(counter block) as a one-block CBC with a zero IV (the same block ECB gives): the
        # key's CBC context also serves _encrypt (R-ENC here, C-DECRYPTION on the other end
        # when both share this process's cipher cache), so no ECB context is made for it.
        return self._enc.encrypt_cbc(self._counter_block(response))

    def _counter_block(self, response: bool) -> bytes:
        counter = self._counter.to_bytes(self._block, "big")
        return b"\x80" + counter[1:] if response else counter

    def _encrypt(self, data: bytes, response: bool) -> bytes:
        # CBC under the ICV = E(counter block) is CBC with a zero IV over the counter block
        # followed by the data, less its first block: one cipher call instead of two.
        padded = pad_method2(data, self._block)
        return self._enc.encrypt_cbc(self._counter_block(response) + padded)[self._block:]

    def _decrypt(self, data: bytes, response: bool) -> bytes:
        return unpad_method2(self._enc.decrypt_cbc(data, self._icv(response)), self._block)

    def _command_mac(self, cla: int, ins: int, p1: int, p2: int, body: bytes) -> bytes:
        lc = len(body) + self._n
        if lc > 0xFF or cla & 0x40:  # let the checks name what does not fit
            header_bytes(mac_cla(cla), ins, p1, p2, lc)
        # CLA as MACed: channel bits zeroed, 0x04 set (the caller checked the header bytes)
        return self._mac.cmac(self._mcv + bytes(((cla & 0xF0) | 0x04, ins, p1, p2, lc)) + body)

    def _response_mac(self, data: bytes, sw: int) -> bytes:
        if self._rmac is None:
            self._rmac = self._keys.cipher("s_rmac")
        return self._rmac.cmac(self._mcv + data + sw.to_bytes(2, "big"))

    def _encrypted_length(self, length: int) -> int:
        if not length or not self._c_dec:
            return length
        block = self._block
        return (length // block + 1) * block

    # -- host side ---------------------------------------------------------------------

    def _protect(self, cla: int, ins: int, p1: int, p2: int, data: bytes) -> bytes:
        """The protected data field (encrypted data ‖ C-MAC); counter and MCV move on.

        The caller has checked that the session is open at a C-MAC level and that the
        header fields are bytes with a GlobalPlatform secure-messaging CLA.
        """
        if self._encrypted_length(len(data)) + self._n > 255:
            raise FormatError(f"{len(data)} data bytes do not fit a short APDU once protected")
        self._counter += 1
        if data and self._c_dec:
            data = self._encrypt(data, response=False)
        self._mcv = self._command_mac(cla, ins, p1, p2, data)
        return data + self._mcv[: self._n]

    def protect_command(
        self, cla: int, ins: int, p1: int, p2: int, data: bytes
    ) -> tuple[int, bytes]:
        """Host: the transmitted CLA and data field (encrypted data and C-MAC)."""
        self._require_open()
        header_bytes(cla, ins, p1, p2)
        if not self._c_mac:
            return cla, data
        tx_cla = secure_messaging_cla(cla)
        return tx_cla, self._protect(cla, ins, p1, p2, data)

    def wrap_fields(self, cla: int, ins: int, p1: int, p2: int, data: bytes,
                    has_le: bool) -> bytes:
        """Host: the protected APDU for a split short command (see the base class).

        The host's per-command path: the APDU is joined once from the protected field,
        without the tuple and the second header check of the general route, which still
        handles (and reports) everything off the common case.
        """
        if (self._closed or not self._c_mac or type(cla) is not int or not 0 <= cla <= 0xFF
                or cla & 0x40 or type(ins) is not int or not 0 <= ins <= 0xFF
                or type(p1) is not int or not 0 <= p1 <= 0xFF
                or type(p2) is not int or not 0 <= p2 <= 0xFF):
            return super().wrap_fields(cla, ins, p1, p2, data, has_le)
        body = self._protect(cla, ins, p1, p2, data)
        apdu = bytes((cla | 0x04, ins, p1, p2, len(body))) + body
        return apdu + b"\x00" if has_le else apdu

    def unprotect_response(self, body: bytes, sw: int) -> bytes:
        """Host: verify the R-MAC and decrypt; returns the plain response data."""
        self._require_open()
        check_status_word(sw)
        if not self._r_mac:
            return body
        n = self._n
        if not is_protected_status(sw):
            if body:
                raise self._fail(MACError(f"unprotected data with error status {sw:04X}"))
            return body
        if len(body) < n:
            raise self._fail(MACError(f"response of {len(body)} bytes has no room for an R-MAC"))
        data, received = body[:-n], body[-n:]
        expected = self._response_mac(data, sw)[:n]
        try:
            check_mac(expected, received, what="R-MAC")
            if data and self._r_enc:
                data = self._decrypt(data, response=True)
        except CryptoError as error:
            raise self._fail(error) from None
        return data

    # -- card side ---------------------------------------------------------------------

    def unprotect_command(self, cla: int, ins: int, p1: int, p2: int, data: bytes) -> bytes:
        """Card: verify the C-MAC and decrypt; returns the plain data field.

        With a level below C-MAC an unprotected command passes through unchanged.
        """
        self._require_open()
        header_bytes(cla, ins, p1, p2)
        if not self._c_mac:
            if has_secure_messaging(cla):
                raise SecureChannelError("command carries secure messaging; the level has none")
            return data
        if not has_secure_messaging(cla):
            raise self._fail(SecureChannelError(f"CLA {cla:02X} lacks the C-MAC this level needs"))
        n = self._n
        if len(data) < n:
            raise self._fail(MACError(f"data field of {len(data)} bytes has no room for a C-MAC"))
        body, received = data[:-n], data[-n:]
        self._counter += 1
        expected = self._command_mac(cla, ins, p1, p2, body)
        try:
            if not compare_digest(expected[:n], received):
                check_mac(expected[:n], received, what="C-MAC")  # raises, as it always did
            self._mcv = expected
            if body and self._c_dec:
                body = self._decrypt(body, response=False)
        except CryptoError as error:
            raise self._fail(error) from None
        return body

    def protect_response(self, data: bytes, sw: int) -> bytes:
        """Card: the response data field to send (encrypted data and R-MAC)."""
        self._require_open()
        check_status_word(sw)
        if not self._r_mac:
            return data
        if not is_protected_status(sw):
            return b""  # GlobalPlatform: an error response is the status word alone
        if data and self._r_enc:
            data = self._encrypt(data, response=True)
        rmac = self._response_mac(data, sw)
        return data + rmac[: self._n]
