"""Cryptogram versions: how chip 1 and the issuer derive keys and compute every MAC.

A cryptogram version number (CVN, in 9F10) names one complete method. Both follow
EMV 4.3 Book 2 Annex A with the common session key derivation:

- ICC master keys (AC, SMI, SMC) from the issuer master keys and PAN ‖ PSN, option A.
- AC session key ``SK_AC``: common derivation with ``R = ATC ‖ 00…``.
- Application cryptogram over ``CDOL1 data [‖ CDOL2 data] ‖ AIP ‖ ATC ‖ IAD``.
- ARPC method 1 (over ARQC and ARC) or method 2 (over ARQC, CSU and proprietary data),
  both with ``SK_AC``.
- Issuer script secure messaging: ``SK_SMI``/``SK_SMC`` by common derivation with
  ``R = ARQC`` (EMV Book 2 §9.2, A1.3); the MAC (8 bytes) covers
  ``CLA INS P1 P2 Lc ‖ ATC ‖ ARQC ‖ command data``; enciphered data is
  ``E(len ‖ data)`` with ISO/IEC 9797-1 method 2 padding.

``CVN 12`` is the 3DES version: ISO/IEC 9797-1 MAC algorithm 3 with padding method 2,
ECB encipherment; it reproduces a published HSM-checked chain (see the tests).
``CVN 22`` is the AES version: AES-CMAC cut to 8 bytes (4 for ARPC method 2),
CBC encipherment with a zero IV, ``R`` padded with zeros to 16 bytes. The AES choices
are dualcard's (``docs/decisions-payment.md``); no public vector exists for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..crypto.ciphers import Algorithm, BlockCipher, CipherKey, KeyCiphers
from ..crypto.emv import EMVScheme, MasterKeyOption
from ..crypto.errors import MACError
from ..crypto.mac import check_mac, cmac, retail_mac
from ..crypto.padding import pad, unpad_method2
from ..crypto.suite import AES_SUITE, TDES_SUITE, AlgorithmSuite
from .errors import PaymentFormatError
from .issuer_response import (
    ARPCMethod,
    CardStatusUpdate,
    IssuerAuthenticationData,
)

__all__ = [
    "AES_CVN",
    "SCRIPT_MAC_LENGTH",
    "TDES_CVN",
    "VERSIONS",
    "CryptogramVersion",
    "IssuerMasterKeys",
    "version_for",
]

SCRIPT_MAC_LENGTH = 8
AC_LENGTH = 8
TDES_CVN = 0x12
AES_CVN = 0x22


@dataclass(frozen=True)
class IssuerMasterKeys:
    """The three keys an issuer (or a card, per card) keeps for one application.

    ``repr`` shows key check values only.
    """

    ac: bytes
    smi: bytes
    smc: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ciphers", KeyCiphers(3))

    def __repr__(self) -> str:
        return "IssuerMasterKeys(…)"

    def cipher(self, name: Literal["ac", "smi", "smc"], algorithm: Algorithm) -> BlockCipher:
        """The cipher of one of the keys, kept with them (an issuer derives every card's
        keys from its master keys)."""
        ciphers: KeyCiphers = self.__dict__["_ciphers"]
        return ciphers.of(algorithm, getattr(self, name))


@dataclass(frozen=True)
class CryptogramVersion:
    cvn: int
    name: str
    suite: AlgorithmSuite
    option: MasterKeyOption = MasterKeyOption.A

    @property
    def scheme(self) -> EMVScheme:
        return self.suite.emv

    @property
    def algorithm(self) -> Algorithm:
        return self.suite.algorithm

    @property
    def key_length(self) -> int:
        return self.suite.key_length

    def kcv(self, key: bytes) -> bytes:
        return self.suite.kcv(key)

    # --- keys --------------------------------------------------------------------------
    def icc_master_key(self, imk: CipherKey, pan: str, psn: str = "00") -> bytes:
        """One ICC master key from its issuer master key (EMV Book 2 A1.4)."""
        return self.scheme.icc_master_key(imk, pan, psn, self.option)

    def icc_master_keys(self, issuer: IssuerMasterKeys, pan: str,
                        psn: str = "00") -> IssuerMasterKeys:
        """The card's AC, SMI and SMC master keys."""
        algorithm = self.algorithm
        return IssuerMasterKeys(self.icc_master_key(issuer.cipher("ac", algorithm), pan, psn),
                                self.icc_master_key(issuer.cipher("smi", algorithm), pan, psn),
                                self.icc_master_key(issuer.cipher("smc", algorithm), pan, psn))

    def ac_session_key(self, mk_ac: CipherKey, atc: int) -> bytes:
        return self.scheme.ac_session_key(mk_ac, atc)

    def sm_session_key(self, mk_sm: CipherKey, arqc: bytes) -> bytes:
        """Script session key: common derivation with ``R = ARQC`` (zero-padded to a block)."""
        _check_ac(arqc)
        return self.scheme.session_key(mk_sm, arqc.ljust(self.algorithm.block_size, b"\x00"))

    # --- application cryptograms ---------------------------------------------------------
    @staticmethod
    def ac_input(cdol1_data: bytes, aip: bytes, atc: int, iad: bytes,
                 cdol2_data: bytes = b"") -> bytes:
        """The data an application cryptogram covers."""
        if len(aip) != 2 or not 0 <= atc <= 0xFFFF:
            raise PaymentFormatError("the AIP has 2 bytes and the ATC fits 2 bytes")
        return bytes(cdol1_data) + bytes(cdol2_data) + bytes(aip) + atc.to_bytes(2, "big") + bytes(iad)

    def application_cryptogram(self, sk_ac: bytes, data: bytes) -> bytes:
        return self.scheme.application_cryptogram(sk_ac, data)

    def verify_application_cryptogram(self, sk_ac: bytes, data: bytes, ac: bytes) -> None:
        """Raise :class:`CryptogramError` unless ``ac`` is right."""
        self.scheme.verify_application_cryptogram(sk_ac, data, ac)

    # --- issuer authentication -----------------------------------------------------------
    def issuer_authentication(self, sk_ac: bytes, arqc: bytes, method: ARPCMethod, *,
                              arc: bytes = b"", csu: CardStatusUpdate | None = None,
                              proprietary: bytes = b"") -> IssuerAuthenticationData:
        """Tag 91 for the ARQC: method 1 over the ARC, method 2 over the CSU."""
        if method is ARPCMethod.METHOD_1:
            return IssuerAuthenticationData(method, self.scheme.arpc_method1(sk_ac, arqc, arc),
                                            arc=arc)
        if csu is None:
            raise PaymentFormatError("ARPC method 2 needs a card status update")
        arpc = self.scheme.arpc_method2(sk_ac, arqc, csu.encode(), proprietary)
        return IssuerAuthenticationData(method, arpc, csu=csu, proprietary=proprietary)

    def verify_issuer_authentication(self, sk_ac: bytes, arqc: bytes,
                                     data: IssuerAuthenticationData) -> None:
        """Card side: raise :class:`CryptogramError` unless the ARPC answers ``arqc``.

        The ARPC is recomputed over the bytes received (the ARC, or the CSU and the
        proprietary data as they came), never over a re-encoding of their meaning: a bit
        the card does not interpret is still one the issuer must have MACed.
        """
        if data.method is ARPCMethod.METHOD_1:
            self.scheme.verify_arpc_method1(sk_ac, arqc, data.arc, data.arpc)
        else:
            self.scheme.verify_arpc_method2(sk_ac, arqc, data.csu_bytes, data.arpc,
                                            data.proprietary)

    # --- issuer script secure messaging ----------------------------------------------------
    def script_mac(self, sk_smi: bytes, header: bytes, atc: int, arqc: bytes,
                   data: bytes = b"") -> bytes:
        """MAC of one script command; ``header`` is CLA INS P1 P2 Lc as transmitted."""
        message = self.script_mac_input(header, atc, arqc, data)
        if self.algorithm is Algorithm.TDES:
            return retail_mac(sk_smi, message)
        return cmac(self.algorithm, sk_smi, message)[:SCRIPT_MAC_LENGTH]

    @staticmethod
    def script_mac_input(header: bytes, atc: int, arqc: bytes, data: bytes = b"") -> bytes:
        """What a script MAC covers: ``CLA INS P1 P2 Lc ‖ ATC ‖ ARQC ‖ command data``."""
        if len(header) != 5:
            raise PaymentFormatError("a script command header is CLA INS P1 P2 Lc")
        return bytes(header) + atc.to_bytes(2, "big") + bytes(arqc) + bytes(data)

    def verify_script_mac(self, sk_smi: bytes, header: bytes, atc: int, arqc: bytes,
                          data: bytes, mac: bytes) -> None:
        """Card side: raise :class:`MACError` unless ``mac`` is right."""
        expected = self.script_mac(sk_smi, header, atc, arqc, data)
        check_mac(expected, mac, what="issuer script MAC", error=MACError)

    def encipher(self, sk_smc: bytes, plaintext: bytes) -> bytes:
        """Confidential script data: ``E(len ‖ data)`` padded with method 2 (ECB for 3DES,
        CBC with a zero IV for AES)."""
        block = self.encipher_input(plaintext)
        if self.algorithm is Algorithm.TDES:
            return self.suite.encrypt_ecb(sk_smc, block)
        return self.suite.encrypt_cbc(sk_smc, block)

    def encipher_input(self, plaintext: bytes) -> bytes:
        """What :meth:`encipher` encrypts: ``len ‖ data`` padded with method 2."""
        if len(plaintext) > 0xFF:
            raise PaymentFormatError("enciphered script data holds at most 255 bytes")
        return pad(bytes([len(plaintext)]) + plaintext, self.algorithm.block_size)

    def decipher(self, sk_smc: bytes, ciphertext: bytes) -> bytes:
        """Inverse of :meth:`encipher`; :class:`PaymentFormatError` if the result is malformed."""
        block = self.algorithm.block_size
        if not ciphertext or len(ciphertext) % block:
            raise PaymentFormatError(f"enciphered data must be whole {block}-byte blocks")
        if self.algorithm is Algorithm.TDES:
            plain = self.suite.decrypt_ecb(sk_smc, ciphertext)
        else:
            plain = self.suite.decrypt_cbc(sk_smc, ciphertext)
        try:
            body = unpad_method2(plain, block)
        except ValueError:
            raise PaymentFormatError("enciphered data does not unpad") from None
        if not body or body[0] != len(body) - 1:
            raise PaymentFormatError("enciphered data length byte does not match")
        return body[1:]


def _check_ac(ac: bytes) -> None:
    if len(ac) != AC_LENGTH:
        raise PaymentFormatError(f"an application cryptogram has 8 bytes, got {len(ac)}")


VERSIONS: dict[int, CryptogramVersion] = {
    TDES_CVN: CryptogramVersion(TDES_CVN, "3DES, common session keys", TDES_SUITE),
    AES_CVN: CryptogramVersion(AES_CVN, "AES-128, common session keys, AES-CMAC", AES_SUITE),
}


def version_for(cvn: int) -> CryptogramVersion:
    """The version a CVN names; :class:`PaymentFormatError` for an unknown one."""
    try:
        return VERSIONS[cvn]
    except KeyError:
        known = ", ".join(f"{c:02X}" for c in VERSIONS)
        raise PaymentFormatError(f"unknown cryptogram version {cvn:02X} (known: {known})") from None
