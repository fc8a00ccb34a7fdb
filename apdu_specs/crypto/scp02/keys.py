"""SCP02 (GPC 2.2 Appendix E, 3DES) session keys and authentication cryptograms.

- Session key: ``3DES-CBC(static key, IV 0)[constant(2) || sequence counter(2) || 00 x 12]``
  with constants 0182 (S-ENC from Key-ENC), 0101 (C-MAC from Key-MAC), 0102 (R-MAC from
  Key-MAC) and 0181 (S-DEK from Key-DEK).
- Cryptograms: full 3DES CBC-MAC with S-ENC (IV 0, padding method 2); the card's over
  ``host_challenge(8) || counter(2) || card_challenge(6)``, the host's over
  ``counter(2) || card_challenge(6) || host_challenge(8)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher
from apdu_specs.crypto.errors import DataLengthError, FormatError, UnsupportedAlgorithmError
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.mac import cbc_mac

__all__ = ["SCP02SessionKeys", "card_cryptogram", "derive_session_keys", "host_cryptogram"]

HOST_CHALLENGE_LENGTH = 8
CARD_CHALLENGE_LENGTH = 6

_S_ENC = b"\x01\x82"
_C_MAC = b"\x01\x01"
_R_MAC = b"\x01\x02"
_S_DEK = b"\x01\x81"


@dataclass(frozen=True, repr=False)
class SCP02SessionKeys:
    """S-ENC, C-MAC, R-MAC and S-DEK of one SCP02 session (16-byte 3DES keys)."""

    s_enc: bytes
    c_mac: bytes
    r_mac: bytes
    s_dek: bytes
    sequence_counter: int

    def __repr__(self) -> str:
        shown = " ".join(
            f"{name}={kcv(Algorithm.TDES, getattr(self, name)).hex().upper()}"
            for name in ("s_enc", "c_mac", "r_mac", "s_dek")
        )
        return f"SCP02SessionKeys(counter={self.sequence_counter:04X}, KCV {shown})"


def _check_counter(sequence_counter: int) -> bytes:
    if not 0 <= sequence_counter <= 0xFFFF:
        raise FormatError(f"SCP02 sequence counter {sequence_counter} does not fit 2 bytes")
    return sequence_counter.to_bytes(2, "big")


def derive_session_keys(static_keys: StaticKeys, sequence_counter: int) -> SCP02SessionKeys:
    """Derive the four SCP02 session keys for ``sequence_counter``."""
    if static_keys.algorithm is not Algorithm.TDES:
        raise UnsupportedAlgorithmError("SCP02 needs a 3DES static key set")
    counter = _check_counter(sequence_counter)

    def derive(key: BlockCipher, constant: bytes) -> bytes:
        return key.encrypt_cbc(constant + counter + bytes(12))

    mac = static_keys.cipher("mac")
    return SCP02SessionKeys(
        s_enc=derive(static_keys.cipher("enc"), _S_ENC),
        c_mac=derive(mac, _C_MAC),
        r_mac=derive(mac, _R_MAC),
        s_dek=derive(static_keys.cipher("dek"), _S_DEK),
        sequence_counter=sequence_counter,
    )


def _check_challenges(host_challenge: bytes, card_challenge: bytes) -> None:
    if len(host_challenge) != HOST_CHALLENGE_LENGTH or len(card_challenge) != CARD_CHALLENGE_LENGTH:
        raise DataLengthError(
            "SCP02 challenges are 8 (host) and 6 (card) bytes, got "
            f"{len(host_challenge)} and {len(card_challenge)}"
        )


def card_cryptogram(
    keys: SCP02SessionKeys, host_challenge: bytes, card_challenge: bytes
) -> bytes:
    """The card's 8-byte authentication cryptogram."""
    _check_challenges(host_challenge, card_challenge)
    counter = _check_counter(keys.sequence_counter)
    return cbc_mac(Algorithm.TDES, keys.s_enc, host_challenge + counter + card_challenge)


def host_cryptogram(
    keys: SCP02SessionKeys, host_challenge: bytes, card_challenge: bytes
) -> bytes:
    """The host's 8-byte authentication cryptogram."""
    _check_challenges(host_challenge, card_challenge)
    counter = _check_counter(keys.sequence_counter)
    return cbc_mac(Algorithm.TDES, keys.s_enc, counter + card_challenge + host_challenge)
