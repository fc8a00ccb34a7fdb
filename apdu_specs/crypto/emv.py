"""EMV card keys and cryptograms (EMV 4.3 Book 2 Annex A), shared by chip 1 and the issuer host.

3DES (as published and checked against HSM-verified vectors):

- ICC master key option A: ``Y`` = rightmost 16 digits of PAN || PSN as 8 BCD bytes,
  ``MK = 3DES(IMK)[Y] || 3DES(IMK)[Y xor FF..FF]`` with odd parity. Option B (PAN longer
  than 16 digits) first reduces PAN || PSN with SHA-1 and decimalisation.
- Common session key: ``SK = 3DES(MK)[R with R2 = F0] || 3DES(MK)[R with R2 = 0F]``,
  odd parity; for cryptograms ``R = ATC || 00 x 6``.
- Application cryptogram: ISO/IEC 9797-1 MAC algorithm 3, padding method 2 by default
  (method 1 for Visa CVN10).
- ARPC method 1: ``3DES(SK)[ARQC xor (ARC || 00 x 6)]``; method 2:
  ``MAC-alg-3(SK)[ARQC || CSU || proprietary data][:4]``.

AES and SM4 (the SM4 scheme is the AES one with SM4 in its place):

- Common session key per Book 2 A1.3.1: ``R = ATC || 00 x 14``; a 16-byte MK gives
  ``SK = E(MK)[R]``; a longer MK gives the leftmost bytes of
  ``E(MK)[R with R2 = F0] || E(MK)[R with R2 = 0F]``.
- Application cryptogram: CMAC (MAC algorithm 5), leftmost 8 bytes. ARPC method 2:
  CMAC leftmost 4 bytes.
- Project choices, not checked against any published vector: the ICC master key is
  ``E(IMK)[Y || ~Y]`` (followed by ``E(IMK)[~Y || Y]`` for IMKs longer than 16 bytes,
  truncated to the IMK length), with the option A/B ``Y`` above; ARPC method 1 is
  ``E(SK)[(ARQC xor (ARC || 00 x 6)) || 00 x 8][:8]``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher, CipherKey, ecb_encrypt, xor
from apdu_specs.crypto.errors import (
    CryptogramError,
    DataLengthError,
    FormatError,
    UnsupportedAlgorithmError,
)
from apdu_specs.crypto.mac import check_mac, cmac, retail_mac
from apdu_specs.crypto.padding import Padding
from apdu_specs.crypto.parity import with_odd_parity

__all__ = ["EMVScheme", "MasterKeyOption", "derivation_digits"]

AC_LENGTH = 8
ARPC2_LENGTH = 4


class MasterKeyOption(Enum):
    """EMV Book 2 A1.4 ICC master key derivation option."""

    A = "A"
    B = "B"


def _digits(value: str, what: str) -> str:
    if not value.isascii() or not value.isdigit():
        raise FormatError(f"{what} must be decimal digits")
    return value


def derivation_digits(pan: str, psn: str = "00", option: MasterKeyOption = MasterKeyOption.A) -> str:
    """The 16 digits ``Y`` that the ICC master key derivation encrypts.

    Option B applies only to PANs longer than 16 digits; shorter ones use option A.
    """
    pan, psn = _digits(pan, "PAN"), _digits(psn, "PAN sequence number")
    if len(psn) != 2:
        raise FormatError(f"PAN sequence number must be 2 digits, got {len(psn)}")
    if option is MasterKeyOption.A or len(pan) <= 16:
        return (pan + psn)[-16:].zfill(16)
    pan_psn = pan + psn
    digest = hashlib.sha1(bytes.fromhex(pan_psn.zfill(len(pan_psn) + len(pan_psn) % 2))).hexdigest()
    decimal = [d for d in digest if d.isdigit()]
    letters = [str("abcdef".index(d)) for d in digest if not d.isdigit()]
    return "".join(decimal + letters)[:16]


@dataclass(frozen=True)
class EMVScheme:
    """EMV key derivation and cryptograms for one block cipher (3DES, AES or SM4)."""

    algorithm: Algorithm

    def __post_init__(self) -> None:
        if self.algorithm not in (Algorithm.TDES, Algorithm.AES, Algorithm.SM4):
            raise UnsupportedAlgorithmError(f"no EMV scheme for {self.algorithm.value}")

    @property
    def _is_des(self) -> bool:
        return self.algorithm is Algorithm.TDES

    # -- keys ----------------------------------------------------------------------------

    def icc_master_key(
        self,
        imk: CipherKey,
        pan: str,
        psn: str = "00",
        option: MasterKeyOption = MasterKeyOption.A,
    ) -> bytes:
        """The card's master key derived from the issuer master key ``imk`` (or the cipher
        the issuer keeps for it)."""
        y = bytes.fromhex(derivation_digits(pan, psn, option))
        not_y = xor(y, b"\xff" * 8)
        if self._is_des:
            return with_odd_parity(ecb_encrypt(self.algorithm, imk, y + not_y))
        key = ecb_encrypt(self.algorithm, imk, y + not_y + not_y + y)
        return key[: _key_size(imk)]

    def session_key(self, master_key: CipherKey, r: bytes) -> bytes:
        """EMV common session key for diversification value ``r`` (one block)."""
        block = self.algorithm.block_size
        if len(r) != block:
            raise DataLengthError(f"diversification value must be {block} bytes, got {len(r)}")
        left, right = r[:2] + b"\xf0" + r[3:], r[:2] + b"\x0f" + r[3:]
        if self._is_des:
            return with_odd_parity(ecb_encrypt(self.algorithm, master_key, left + right))
        size = _key_size(master_key)
        if size == block:
            return ecb_encrypt(self.algorithm, master_key, r)
        return ecb_encrypt(self.algorithm, master_key, left + right)[:size]

    def ac_session_key(self, master_key: CipherKey, atc: int) -> bytes:
        """The cryptogram session key for ``atc`` (``R = ATC || 00..``)."""
        if not 0 <= atc <= 0xFFFF:
            raise FormatError(f"ATC {atc} does not fit 2 bytes")
        r = atc.to_bytes(2, "big") + bytes(self.algorithm.block_size - 2)
        return self.session_key(master_key, r)

    # -- cryptograms -----------------------------------------------------------------------

    def application_cryptogram(
        self, session_key: bytes, data: bytes, padding: Padding = Padding.METHOD_2
    ) -> bytes:
        """The 8-byte ARQC / TC / AAC over the CDOL-selected ``data``.

        ``padding`` applies to 3DES only; CMAC pads by itself.
        """
        if self._is_des:
            return retail_mac(session_key, data, padding=padding)
        return cmac(self.algorithm, session_key, data)[:AC_LENGTH]

    def verify_application_cryptogram(
        self,
        session_key: bytes,
        data: bytes,
        cryptogram: bytes,
        padding: Padding = Padding.METHOD_2,
    ) -> None:
        """Raise :class:`CryptogramError` unless ``cryptogram`` is right for ``data``."""
        expected = self.application_cryptogram(session_key, data, padding)
        check_mac(expected, cryptogram, what="application cryptogram", error=CryptogramError)

    def arpc_method1(self, session_key: bytes, arqc: bytes, arc: bytes) -> bytes:
        """ARPC method 1 (8 bytes); tag 91 is ``ARPC || ARC``."""
        _check_length(arqc, AC_LENGTH, "ARQC")
        _check_length(arc, 2, "ARC")
        y = xor(arqc, arc + bytes(6))
        if self._is_des:
            return ecb_encrypt(self.algorithm, session_key, y)
        return ecb_encrypt(self.algorithm, session_key, y + bytes(8))[:AC_LENGTH]

    def arpc_method2(
        self, session_key: bytes, arqc: bytes, csu: bytes, proprietary: bytes = b""
    ) -> bytes:
        """ARPC method 2 (4 bytes); tag 91 is ``ARPC || CSU || proprietary``."""
        _check_length(arqc, AC_LENGTH, "ARQC")
        _check_length(csu, 4, "CSU")
        if len(proprietary) > 8:
            raise DataLengthError("proprietary authentication data is at most 8 bytes")
        data = arqc + csu + proprietary
        if self._is_des:
            return retail_mac(session_key, data)[:ARPC2_LENGTH]
        return cmac(self.algorithm, session_key, data)[:ARPC2_LENGTH]

    def verify_arpc_method1(self, session_key: bytes, arqc: bytes, arc: bytes, arpc: bytes) -> None:
        """Raise :class:`CryptogramError` unless ``arpc`` answers ``arqc`` with ``arc``."""
        expected = self.arpc_method1(session_key, arqc, arc)
        check_mac(expected, arpc, what="ARPC", error=CryptogramError)

    def verify_arpc_method2(
        self, session_key: bytes, arqc: bytes, csu: bytes, arpc: bytes, proprietary: bytes = b""
    ) -> None:
        """Raise :class:`CryptogramError` unless ``arpc`` answers ``arqc`` with ``csu``."""
        expected = self.arpc_method2(session_key, arqc, csu, proprietary)
        check_mac(expected, arpc, what="ARPC", error=CryptogramError)


def _check_length(value: bytes, length: int, what: str) -> None:
    if len(value) != length:
        raise DataLengthError(f"{what} must be {length} bytes, got {len(value)}")


def _key_size(key: CipherKey) -> int:
    return key.key_size if isinstance(key, BlockCipher) else len(key)
