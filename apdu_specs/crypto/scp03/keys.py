"""SCP03 session keys, authentication cryptograms and the pseudo-random card challenge.

All are outputs of the SCP03 KDF (:func:`apdu_specs.crypto.kdf.scp03_kdf`) with the
derivation constants of GPC 2.3 Amendment D Table 4-1. The context for session keys and
cryptograms is ``host_challenge || card_challenge``; the pseudo-random card challenge is
derived from the static Key-ENC with ``sequence_counter(3) || SD AID``.

The SM4 variant is the same construction with SM4 (SM4-CMAC as the PRF, SM4-CBC for
encryption) in place of AES; it needs 16-byte keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher, KeyCiphers
from apdu_specs.crypto.errors import DataLengthError, FormatError, UnsupportedAlgorithmError
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.kdf import scp03_kdf
from apdu_specs.crypto.keyset import StaticKeys

__all__ = [
    "DerivationConstant",
    "SessionKeys",
    "card_cryptogram",
    "derive_session_keys",
    "host_cryptogram",
    "pseudo_random_card_challenge",
]

SCP03_ALGORITHMS = (Algorithm.AES, Algorithm.SM4)


class DerivationConstant(IntEnum):
    """The derivation constants of GPC 2.3 Amendment D Table 4-1."""

    CARD_CRYPTOGRAM = 0x00
    HOST_CRYPTOGRAM = 0x01
    CARD_CHALLENGE = 0x02
    S_ENC = 0x04
    S_MAC = 0x06
    S_RMAC = 0x07


@dataclass(frozen=True, repr=False)
class SessionKeys:
    """S-ENC, S-MAC, S-RMAC of one session, plus the static DEK (which is not derived).

    The session's ciphers (:meth:`cipher`) are kept here, made on first use, and go with
    the keys when the session ends."""

    s_enc: bytes
    s_mac: bytes
    s_rmac: bytes
    dek: bytes
    algorithm: Algorithm = Algorithm.AES

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ciphers", KeyCiphers(4))

    def cipher(self, name: Literal["s_enc", "s_mac", "s_rmac", "dek"]) -> BlockCipher:
        """The cipher of one of the session's keys."""
        key: bytes = getattr(self, name)
        ciphers: KeyCiphers = self.__dict__["_ciphers"]
        return ciphers.of(self.algorithm, key)

    def __repr__(self) -> str:
        shown = " ".join(
            f"{name}={kcv(self.algorithm, getattr(self, name)).hex().upper()}"
            for name in ("s_enc", "s_mac", "s_rmac", "dek")
        )
        return f"SessionKeys({self.algorithm.value}, KCV {shown})"


# plain ints: the constants go into bytes() on every handshake of both ends
_S_ENC = DerivationConstant.S_ENC.value
_S_MAC = DerivationConstant.S_MAC.value
_S_RMAC = DerivationConstant.S_RMAC.value


def _check_algorithm(algorithm: Algorithm) -> None:
    if algorithm not in SCP03_ALGORITHMS:
        raise UnsupportedAlgorithmError(f"SCP03 is defined for AES and SM4, not {algorithm.value}")


def _context(host_challenge: bytes, card_challenge: bytes) -> bytes:
    if len(host_challenge) != len(card_challenge) or len(host_challenge) not in (8, 16):
        raise DataLengthError(
            "host and card challenges must both be 8 (S8) or 16 (S16) bytes, got "
            f"{len(host_challenge)} and {len(card_challenge)}"
        )
    return host_challenge + card_challenge


def derive_session_keys(
    static_keys: StaticKeys, host_challenge: bytes, card_challenge: bytes
) -> SessionKeys:
    """Derive S-ENC (from Key-ENC), S-MAC and S-RMAC (from Key-MAC) for one session."""
    algorithm = static_keys.algorithm
    _check_algorithm(algorithm)
    context = _context(host_challenge, card_challenge)
    enc_bits, mac_bits = len(static_keys.enc) * 8, len(static_keys.mac) * 8
    mac = static_keys.cipher("mac")  # S-MAC and S-RMAC both come from Key-MAC
    return SessionKeys(
        s_enc=scp03_kdf(algorithm, static_keys.cipher("enc"), _S_ENC, context, enc_bits),
        s_mac=scp03_kdf(algorithm, mac, _S_MAC, context, mac_bits),
        s_rmac=scp03_kdf(algorithm, mac, _S_RMAC, context, mac_bits),
        dek=static_keys.dek,
        algorithm=algorithm,
    )


def _cryptogram(
    keys: SessionKeys, constant: DerivationConstant, host_challenge: bytes, card_challenge: bytes
) -> bytes:
    context = _context(host_challenge, card_challenge)
    return scp03_kdf(keys.algorithm, keys.cipher("s_mac"), constant, context,
                     len(host_challenge) * 8)


def card_cryptogram(keys: SessionKeys, host_challenge: bytes, card_challenge: bytes) -> bytes:
    """The card's authentication cryptogram (as long as the challenges)."""
    return _cryptogram(keys, DerivationConstant.CARD_CRYPTOGRAM, host_challenge, card_challenge)


def host_cryptogram(keys: SessionKeys, host_challenge: bytes, card_challenge: bytes) -> bytes:
    """The host's authentication cryptogram (as long as the challenges)."""
    return _cryptogram(keys, DerivationConstant.HOST_CRYPTOGRAM, host_challenge, card_challenge)


def pseudo_random_card_challenge(
    static_keys: StaticKeys, sequence_counter: int, sd_aid: bytes, length: int = 8
) -> bytes:
    """The card challenge of a card with i-parameter bit 0x10 (8 or 16 bytes)."""
    _check_algorithm(static_keys.algorithm)
    if not 0 <= sequence_counter <= 0xFFFFFF:
        raise FormatError(f"sequence counter {sequence_counter} does not fit 3 bytes")
    if length not in (8, 16):
        raise DataLengthError(f"card challenge must be 8 or 16 bytes, not {length}")
    if not 5 <= len(sd_aid) <= 16:
        raise DataLengthError(f"an AID has 5 to 16 bytes, got {len(sd_aid)}")
    context = sequence_counter.to_bytes(3, "big") + sd_aid
    return scp03_kdf(
        static_keys.algorithm,
        static_keys.cipher("enc"),
        DerivationConstant.CARD_CHALLENGE,
        context,
        length * 8,
    )
