"""The project's key schemes written once over a :class:`~host.hsm.provider.KeyProvider`.

Each scheme is the same bytes as its pure definition in :mod:`apdu_specs.crypto` (EMV
option A and common session keys, ARQC and ARPC, the purse's diversification, session keys
and MACs, GP EMV CPS and KDF3); the tests run the published vectors through both providers and
through the pure functions. What differs is where the keys are: every intermediate key
(ICC master key, session key, card key) is made by the provider with :meth:`derive` and
discarded at the end of the block, so in a token it never exists outside it.

3DES retail MAC (ISO/IEC 9797-1 algorithm 3) is built from what every token has: single
DES CBC under the left half for all blocks but the last, then 3DES under the whole key
with that chaining value as IV — the same thing as "decrypt with K2, encrypt with K1" at
the end. The left half is derived inside the token as a key of its own. Single DES keys
(that half, the 3DES purse's session keys) are made as double-length keys ``K || K``,
which 3DES-EDE turns into single DES: SoftHSM2 built on OpenSSL 3 refuses single DES
mechanisms, and ``DES3_ECB_ENCRYPT_DATA`` over ``D || D`` gives exactly ``K || K``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm, xor
from apdu_specs.crypto.diversify import KeyType
from apdu_specs.crypto.emv import MasterKeyOption, derivation_digits
from apdu_specs.crypto.padding import Padding, pad, pad_method2
from apdu_specs.crypto.purse import MAC_LENGTH
from host.points.keys import diversification_data

from .errors import HSMUnsupportedError
from .provider import HeldKey, KeyProvider

__all__ = ["MacKey", "ac_session_key", "application_cryptogram", "arpc_method1",
           "arpc_method1_under", "arpc_method2_under", "cmac_subkey", "cryptogram_under",
           "emv_cps_card_key", "emv_cps_data", "encipher_under", "icc_master_key",
           "kdf3_card_key", "kdf3_data", "make_purse_session_key", "option_a_data",
           "purse_card_key", "purse_key_data", "purse_load_mac", "purse_mac_under",
           "purse_session_key", "purse_tac", "purse_tac_key", "purse_tac_under", "retail_mac",
           "script_mac_under", "sm_enc_key", "sm_mac_key"]

AC_LENGTH = 8
ARPC2_LENGTH = 4
_FF8 = b"\xff" * 8


class MacKey:
    """A key ready to MAC with: the key, and for 3DES its left half as a DES key."""

    def __init__(self, key: HeldKey, left: HeldKey | None = None) -> None:
        self.key = key
        self.left = left

    def __repr__(self) -> str:
        return f"MacKey({self.key!r})"


def retail_mac(provider: KeyProvider, mac_key: MacKey, data: bytes,
               padding: Padding = Padding.METHOD_2) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (8 bytes) from DES-CBC and 3DES-CBC."""
    if mac_key.left is None:
        raise HSMUnsupportedError("a retail MAC needs the key's left half as a DES key")
    padded = pad(data, 8, padding)
    head, last = padded[:-8], padded[-8:]
    iv = provider.encrypt_cbc(mac_key.left, head)[-8:] if head else bytes(8)
    return provider.encrypt_cbc(mac_key.key, last, iv)


@contextmanager
def _derived_mac_key(provider: KeyProvider, parent: HeldKey, data: bytes) -> Iterator[MacKey]:
    """A derived MAC key; for 3DES with its left half derived beside it."""
    with ExitStack() as stack:
        key = stack.enter_context(provider.derived(parent, data))
        left = None
        if parent.algorithm is Algorithm.TDES:
            left = stack.enter_context(_single_des(provider, parent, data[:8]))
        yield MacKey(key, left)


def _single_des(provider: KeyProvider, parent: HeldKey, block: bytes
                ) -> AbstractContextManager[HeldKey]:
    """The single DES key ``3DES(parent)[block]``, as the double-length key ``K || K``."""
    return provider.derived(parent, block + block, Algorithm.TDES)


# -- EMV: ICC master key (option A), AC session key, ARQC, ARPC --------------------------


def option_a_data(imk: HeldKey, pan: str, psn: str,
                  option: MasterKeyOption = MasterKeyOption.A) -> bytes:
    """What an issuer master key encrypts to make a card's ICC master key (the EMV option
    names the digits; the construction is option A's)."""
    y = bytes.fromhex(derivation_digits(pan, psn, option))
    not_y = xor(y, _FF8)
    if imk.algorithm is Algorithm.TDES:
        return y + not_y
    return (y + not_y + not_y + y)[:imk.length]


@contextmanager
def icc_master_key(provider: KeyProvider, imk: HeldKey, pan: str, psn: str = "00",
                   option: MasterKeyOption = MasterKeyOption.A) -> Iterator[HeldKey]:
    """The card's master key (EMV option A), derived where ``imk`` is."""
    with provider.derived(imk, option_a_data(imk, pan, psn, option)) as key:
        yield key


def _session_data(mk: HeldKey, r: bytes) -> bytes:
    """What the card's master key encrypts to make the EMV common session key of ``r``."""
    block = mk.algorithm.block_size
    left, right = r[:2] + b"\xf0" + r[3:], r[:2] + b"\x0f" + r[3:]
    if mk.algorithm is not Algorithm.TDES and mk.length == block:
        return r
    return (left + right)[:mk.length]


@contextmanager
def ac_session_key(provider: KeyProvider, mk: HeldKey, atc: int) -> Iterator[MacKey]:
    """The EMV common session key for cryptograms at ``atc`` (``R = ATC || 00..``)."""
    r = atc.to_bytes(2, "big") + bytes(mk.algorithm.block_size - 2)
    with _derived_mac_key(provider, mk, _session_data(mk, r)) as sk:
        yield sk


def _script_r(mk: HeldKey, arqc: bytes) -> bytes:
    """A script session key's ``R``: the ARQC, zero-padded to a block."""
    if len(arqc) != AC_LENGTH:
        raise HSMUnsupportedError(f"an ARQC has {AC_LENGTH} bytes, got {len(arqc)}")
    return bytes(arqc).ljust(mk.algorithm.block_size, b"\x00")


@contextmanager
def sm_mac_key(provider: KeyProvider, mk_smi: HeldKey, arqc: bytes) -> Iterator[MacKey]:
    """SK-SMI: the session key script MACs are made with (common derivation, ``R = ARQC``)."""
    with _derived_mac_key(provider, mk_smi, _session_data(mk_smi, _script_r(mk_smi, arqc))) \
            as sk:
        yield sk


@contextmanager
def sm_enc_key(provider: KeyProvider, mk_smc: HeldKey, arqc: bytes) -> Iterator[HeldKey]:
    """SK-SMC: the session key confidential script data is enciphered with."""
    with provider.derived(mk_smc, _session_data(mk_smc, _script_r(mk_smc, arqc))) as sk:
        yield sk


def script_mac_under(provider: KeyProvider, sk: MacKey, message: bytes) -> bytes:
    """A script command's MAC (8 bytes) under SK-SMI: retail MAC (3DES) or CMAC."""
    return cryptogram_under(provider, sk, message)


def encipher_under(provider: KeyProvider, sk: HeldKey, block: bytes) -> bytes:
    """Confidential script data under SK-SMC: ECB (3DES) or CBC with a zero IV (AES)."""
    if sk.algorithm is Algorithm.TDES:
        return provider.encrypt_ecb(sk, block)
    return provider.encrypt_cbc(sk, block)


def cryptogram_under(provider: KeyProvider, sk: MacKey, data: bytes) -> bytes:
    """ARQC / TC / AAC under a session key: retail MAC (3DES) or CMAC, 8 bytes."""
    if sk.key.algorithm is Algorithm.TDES:
        return retail_mac(provider, sk, data)
    return provider.cmac(sk.key, data)[:AC_LENGTH]


def application_cryptogram(provider: KeyProvider, imk: HeldKey, pan: str, psn: str, atc: int,
                           data: bytes) -> bytes:
    """The 8-byte ARQC / TC / AAC a card with this PAN computes over ``data`` at ``atc``."""
    with icc_master_key(provider, imk, pan, psn) as mk, \
            ac_session_key(provider, mk, atc) as sk:
        return cryptogram_under(provider, sk, data)


def arpc_method1_under(provider: KeyProvider, sk: HeldKey, arqc: bytes, arc: bytes) -> bytes:
    """ARPC method 1 (8 bytes) under a session key."""
    y = xor(arqc, arc + bytes(6))
    if sk.algorithm is Algorithm.TDES:
        return provider.encrypt_ecb(sk, y)
    return provider.encrypt_ecb(sk, y + bytes(8))[:AC_LENGTH]


def arpc_method2_under(provider: KeyProvider, sk: MacKey, arqc: bytes, csu: bytes,
                       proprietary: bytes = b"") -> bytes:
    """ARPC method 2 (4 bytes) under a session key."""
    data = arqc + csu + proprietary
    if sk.key.algorithm is Algorithm.TDES:
        return retail_mac(provider, sk, data)[:ARPC2_LENGTH]
    return provider.cmac(sk.key, data)[:ARPC2_LENGTH]


def arpc_method1(provider: KeyProvider, imk: HeldKey, pan: str, psn: str, atc: int,
                 arqc: bytes, arc: bytes) -> bytes:
    """ARPC method 1 under the card's AC session key at ``atc`` (the issuer's answer)."""
    with icc_master_key(provider, imk, pan, psn) as mk, \
            ac_session_key(provider, mk, atc) as sk:
        return arpc_method1_under(provider, sk.key, arqc, arc)


# -- the purse: card keys, load MACs, TAC -----------------------------------------------


def purse_key_data(card_identity: str, purse: Purse) -> bytes:
    """What a purse master key encrypts to make one card's key: ``Y || Y xor FF..``."""
    y = diversification_data(card_identity, purse)
    return y + xor(y, _FF8)


@contextmanager
def purse_card_key(provider: KeyProvider, master: HeldKey, card_identity: str, purse: Purse
                   ) -> Iterator[HeldKey]:
    """A purse's DLK, DPK or DTK on one card, derived where its master is."""
    with provider.derived(master, purse_key_data(card_identity, purse)) as key:
        yield key


def _purse_mac(provider: KeyProvider, key: HeldKey, data: bytes) -> bytes:
    """Single-DES CBC-MAC (a DES key or ``K || K``) for the 3DES suite, CMAC otherwise."""
    if key.algorithm in (Algorithm.DES, Algorithm.TDES):
        return provider.encrypt_cbc(key, pad_method2(data, 8))[-8:][:MAC_LENGTH]
    return provider.cmac(key, data)[:MAC_LENGTH]


def make_purse_session_key(provider: KeyProvider, card_key: HeldKey, block: bytes) -> HeldKey:
    """A purse session key (SESLK, SESPK) from a card key and its 8-byte block (the caller
    discards it): single DES (as ``K || K``) for the 3DES suite, the padded block encrypted
    for AES."""
    if card_key.algorithm is Algorithm.TDES:
        return provider.derive(card_key, block + block, Algorithm.TDES)
    return provider.derive(card_key, pad_method2(block, card_key.algorithm.block_size))


@contextmanager
def purse_session_key(provider: KeyProvider, card_key: HeldKey, block: bytes
                      ) -> Iterator[HeldKey]:
    """:func:`make_purse_session_key`, discarded when the block ends."""
    key = make_purse_session_key(provider, card_key, block)
    try:
        yield key
    finally:
        provider.discard(key)


def purse_mac_under(provider: KeyProvider, session_key: HeldKey, data: bytes) -> bytes:
    """A purse MAC (MAC1, MAC2) under a session key."""
    return _purse_mac(provider, session_key, data)


def purse_load_mac(provider: KeyProvider, dlk: HeldKey, card_random: bytes, online_seq: int,
                   data: bytes) -> bytes:
    """MAC1 or MAC2 of a load under SESLK, derived from the card's DLK in the provider."""
    block = bytes(card_random) + online_seq.to_bytes(2, "big") + b"\x80\x00"
    with purse_session_key(provider, dlk, block) as seslk:
        return _purse_mac(provider, seslk, data)


def purse_tac_key(provider: KeyProvider, tac_master: HeldKey, card_identity: str,
                  purse: Purse) -> HeldKey:
    """A card's TAC key, made where its master is (the caller discards it): the AES suite's
    is the DTK itself; the 3DES suite's is ``DTK[0:8] xor DTK[8:16]``, as ``K || K``
    (docs/hsm.md says how a token makes it)."""
    data = purse_key_data(card_identity, purse)
    if tac_master.algorithm is Algorithm.TDES:
        return provider.derive_folded(tac_master, data)
    return provider.derive(tac_master, data)


def purse_tac_under(provider: KeyProvider, tac_key: HeldKey, data: bytes) -> bytes:
    """The TAC under a card's TAC key (:func:`purse_tac_key`)."""
    return _purse_mac(provider, tac_key, data)


def purse_tac(provider: KeyProvider, tac_master: HeldKey, card_identity: str, purse: Purse,
              data: bytes) -> bytes:
    """The TAC of a purse record, the card's TAC key made for it and discarded after."""
    key = purse_tac_key(provider, tac_master, card_identity, purse)
    try:
        return purse_tac_under(provider, key, data)
    finally:
        provider.discard(key)


# -- GlobalPlatform: EMV CPS card keys ----------------------------------------------------


@contextmanager
def emv_cps_card_key(provider: KeyProvider, master: HeldKey, kdd: bytes, key_type: KeyType
                     ) -> Iterator[HeldKey]:
    """A security domain key (EMV CPS, 3DES) derived where its master is."""
    with provider.derived(master, emv_cps_data(master, kdd, key_type)) as key:
        yield key


def emv_cps_data(master: HeldKey, kdd: bytes, key_type: KeyType) -> bytes:
    """What a 3DES master encrypts to make a card's security domain key (EMV CPS)."""
    if master.algorithm is not Algorithm.TDES or len(kdd) != 10:
        raise HSMUnsupportedError("EMV CPS diversification takes a 3DES master and a "
                                  "10-byte KDD")
    kt = bytes([key_type])
    card = kdd[4:10]
    return card + b"\xf0" + kt + card + b"\x0f" + kt


# -- GlobalPlatform: KDF3 card keys (AES) --------------------------------------------------

_GF128 = 0x87
_BLOCK = 16


def cmac_subkey(provider: KeyProvider, key: HeldKey) -> bytes:
    """K1 of AES-CMAC (NIST SP 800-38B): ``E_K(0)`` doubled in GF(2^128).

    ``E_K(0)`` is what ECB under the key gives anyone holding the token's PIN (a KCV is cut
    from it); with it alone no MAC and no key derived from ``key`` can be computed.
    """
    value = int.from_bytes(provider.encrypt_ecb(key, bytes(_BLOCK)), "big")
    doubled = (value << 1) & ((1 << 128) - 1)
    if value >> 127:
        doubled ^= _GF128
    return doubled.to_bytes(_BLOCK, "big")


@contextmanager
def kdf3_card_key(provider: KeyProvider, master: HeldKey, kdd: bytes, key_type: KeyType
                  ) -> Iterator[HeldKey]:
    """A security domain key (KDF3, AES) derived where its master is.

    Each KDF3 block is the CMAC of one whole block ``i || 00 00 00 || type || 00 || KDD``,
    which is ``E_M(block xor K1)``: an ``AES_ECB_ENCRYPT_DATA`` derivation over the blocks
    so masked gives the card key inside the token, with no SP 800-108 mechanism.
    """
    data = kdf3_data(master, cmac_subkey(provider, master), kdd, key_type)
    with provider.derived(master, data) as key:
        yield key


def kdf3_data(master: HeldKey, k1: bytes, kdd: bytes, key_type: KeyType) -> bytes:
    """What ``master`` encrypts (ECB) to make a KDF3 card key, ``k1`` being its CMAC subkey
    (:func:`cmac_subkey`, the same for every card)."""
    if master.algorithm is not Algorithm.AES or master.length not in (16, 32) or len(kdd) != 10:
        raise HSMUnsupportedError("KDF3 diversification in a token takes an AES-128 or "
                                  "AES-256 master and a 10-byte KDD")
    suffix = b"\x00\x00\x00" + bytes([key_type]) + b"\x00" + kdd
    return b"".join(xor(bytes([i]) + suffix, k1) for i in range(1, master.length // _BLOCK + 1))
