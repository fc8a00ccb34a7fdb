"""PBOC electronic purse (JR/T 0025 style) keys, MACs and TAC, shared by chip 2 and the hosts.

3DES suite (PBOC 2.0, checked bit-exactly against a real card log):

- Load session key ``SESLK = 3DES-ECB(DLK)[random(4) || online_seq(2) || 80 00]``;
  purchase session key ``SESPK = 3DES-ECB(DPK)[random(4) || offline_seq(2) ||
  terminal_seq[2..3]]``. Both are 8-byte single-DES keys.
- TAC key: ``DTK[0:8] xor DTK[8:16]`` (single DES).
- MAC: single-DES CBC-MAC, IV 0, padding method 2, leftmost 4 bytes.

AES and SM4 suites (no published specification; project choices, same data layouts):

- Session key: the 8-byte PBOC input above padded to one 16-byte block with ISO/IEC
  9797-1 method 2 (``|| 80 00 x 7``) and encrypted with the 16-byte purse key (ECB);
  the whole block is the session key.
- TAC key: the DTK itself (CMAC needs no single-DES folding).
- MAC: CMAC with the suite's cipher, leftmost 4 bytes.

What each MAC covers (amounts and balances are 4-byte unsigned, big-endian, in minor units):

- load MAC1 (card): balance before, amount, type, terminal ID;
- load MAC2 (host): amount, type, terminal ID, date-time;
- load TAC (card): balance after, online seq before the load, amount, type, terminal ID,
  date-time;
- purchase MAC1 (terminal): amount, type, terminal ID, date-time;
- purchase MAC2 (card): amount;
- purchase TAC (card): amount, type, terminal ID, terminal seq, date-time.

The date-time is 7 BCD bytes ``YYYYMMDDhhmmss`` (see :func:`transaction_time`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from apdu_specs.caches import pure_cache
from apdu_specs.crypto.ciphers import Algorithm, CipherKey, check_key, ecb_encrypt, xor
from apdu_specs.crypto.errors import (
    DataLengthError,
    FormatError,
    KeyLengthError,
    UnsupportedAlgorithmError,
)
from apdu_specs.crypto.mac import check_mac, cmac, pboc_mac
from apdu_specs.crypto.padding import pad_method2

__all__ = [
    "LOAD_EP",
    "PURCHASE_EP",
    "PurseScheme",
    "transaction_time",
]

LOAD_EP = 0x02
"""Transaction type of an electronic-purse load (confirmed on a card log)."""
PURCHASE_EP = 0x06
"""Transaction type of an electronic-purse purchase."""

MAC_LENGTH = 4
TERMINAL_ID_LENGTH = 6
TIME_LENGTH = 7

_ALGORITHM_IDS = {Algorithm.TDES: 0x00, Algorithm.SM4: 0x04, Algorithm.AES: 0x80}


def transaction_time(moment: _dt.datetime) -> bytes:
    """``YYYYMMDDhhmmss`` as 7 BCD bytes."""
    if type(moment) is _dt.datetime:
        return _bcd_time(moment)
    return _encode_time(moment)


@pure_cache(maxsize=256)
def _bcd_time(moment: _dt.datetime) -> bytes:
    """Every MAC and TAC of a movement covers its time: encoded once per moment."""
    return _encode_time(moment)


def _encode_time(moment: _dt.datetime) -> bytes:
    digits = (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"
    )
    return bytes.fromhex(digits)


def _u(value: int, size: int, what: str) -> bytes:
    if not 0 <= value < 1 << (8 * size):
        raise FormatError(f"{what} {value} does not fit {size} unsigned bytes")
    return value.to_bytes(size, "big")


def _field(value: bytes, size: int, what: str) -> bytes:
    if len(value) != size:
        raise DataLengthError(f"{what} must be {size} bytes, got {len(value)}")
    return bytes(value)


@dataclass(frozen=True)
class PurseScheme:
    """Purse cryptography for one algorithm suite (3DES, AES or SM4)."""

    algorithm: Algorithm

    def __post_init__(self) -> None:
        if self.algorithm not in _ALGORITHM_IDS:
            raise UnsupportedAlgorithmError(f"no purse scheme for {self.algorithm.value}")

    @property
    def algorithm_id(self) -> int:
        """The algorithm ID the card returns in INITIALIZE FOR LOAD / PURCHASE.

        00 is 3DES (seen on a card log); 04 for SM4 is the expected PBOC 3.0 value
        (unconfirmed); 80 for AES is this project's private value.
        """
        return _ALGORITHM_IDS[self.algorithm]

    # -- keys ----------------------------------------------------------------------------

    def _session_key(self, key: CipherKey, block8: bytes) -> bytes:
        if self.algorithm is Algorithm.TDES:
            return ecb_encrypt(self.algorithm, key, block8)
        return ecb_encrypt(self.algorithm, key, pad_method2(block8, self.algorithm.block_size))

    def load_session_key(self, dlk: CipherKey, card_random: bytes, online_seq: int) -> bytes:
        """SESLK from the load key, the card's random and the online sequence number."""
        block = _field(card_random, 4, "card random") + _u(online_seq, 2, "online seq")
        return self._session_key(dlk, block + b"\x80\x00")

    def purchase_session_key(
        self, dpk: CipherKey, card_random: bytes, offline_seq: int, terminal_seq: int
    ) -> bytes:
        """SESPK from the purchase key, the card's random and both sequence numbers."""
        block = _field(card_random, 4, "card random") + _u(offline_seq, 2, "offline seq")
        block += _u(terminal_seq, 4, "terminal seq")[2:]
        return self._session_key(dpk, block)

    def tac_key(self, dtk: bytes) -> bytes:
        """The key of the TAC, from the card's DTK."""
        check_key(self.algorithm, dtk)
        if self.algorithm is Algorithm.TDES:
            if len(dtk) != 16:
                raise KeyLengthError("the 3DES purse DTK must be a 16-byte key")
            return xor(dtk[:8], dtk[8:])
        return bytes(dtk)

    # -- MACs ----------------------------------------------------------------------------

    def mac(self, key: CipherKey, data: bytes) -> bytes:
        """The suite's 4-byte purse MAC (``key`` may be the cipher its owner keeps: single
        DES for the 3DES suite, whose MAC keys are 8 bytes)."""
        if self.algorithm is Algorithm.TDES:
            return pboc_mac(key, data)
        return cmac(self.algorithm, key, data)[:MAC_LENGTH]

    def verify(self, key: CipherKey, data: bytes, received: bytes, *, what: str = "MAC") -> None:
        """Raise :class:`MACError` unless ``received`` is the MAC of ``data``."""
        check_mac(self.mac(key, data), received, what=what)

    @staticmethod
    def _txn(amount: int, trans_type: int, terminal_id: bytes) -> bytes:
        return (
            _u(amount, 4, "amount")
            + _u(trans_type, 1, "transaction type")
            + _field(terminal_id, TERMINAL_ID_LENGTH, "terminal ID")
        )

    def load_mac1_data(
        self, balance_before: int, amount: int, trans_type: int, terminal_id: bytes
    ) -> bytes:
        """What load MAC1 covers."""
        return _u(balance_before, 4, "balance") + self._txn(amount, trans_type, terminal_id)

    def load_mac2_data(
        self, amount: int, trans_type: int, terminal_id: bytes, time: bytes
    ) -> bytes:
        """What load MAC2 covers."""
        return self._txn(amount, trans_type, terminal_id) + _field(time, TIME_LENGTH, "time")

    def load_tac_data(
        self,
        balance_after: int,
        online_seq: int,
        amount: int,
        trans_type: int,
        terminal_id: bytes,
        time: bytes,
    ) -> bytes:
        """What the load TAC covers."""
        return (
            _u(balance_after, 4, "balance")
            + _u(online_seq, 2, "online seq")
            + self.load_mac2_data(amount, trans_type, terminal_id, time)
        )

    def purchase_mac1_data(
        self, amount: int, trans_type: int, terminal_id: bytes, time: bytes
    ) -> bytes:
        """What purchase MAC1 covers (the plain PBOC form)."""
        return self.load_mac2_data(amount, trans_type, terminal_id, time)

    def purchase_mac2_data(self, amount: int) -> bytes:
        """What purchase MAC2 covers."""
        return _u(amount, 4, "amount")

    def purchase_tac_data(
        self, amount: int, trans_type: int, terminal_id: bytes, terminal_seq: int, time: bytes
    ) -> bytes:
        """What the purchase TAC covers."""
        return (
            self._txn(amount, trans_type, terminal_id)
            + _u(terminal_seq, 4, "terminal seq")
            + _field(time, TIME_LENGTH, "time")
        )

    def load_mac1(
        self, seslk: bytes, balance_before: int, amount: int, trans_type: int, terminal_id: bytes
    ) -> bytes:
        """MAC1 of INITIALIZE FOR LOAD (card to host)."""
        return self.mac(seslk, self.load_mac1_data(balance_before, amount, trans_type, terminal_id))

    def load_mac2(
        self, seslk: bytes, amount: int, trans_type: int, terminal_id: bytes, time: bytes
    ) -> bytes:
        """MAC2 of CREDIT FOR LOAD (host to card)."""
        return self.mac(seslk, self.load_mac2_data(amount, trans_type, terminal_id, time))

    def load_tac(
        self,
        tac_key: CipherKey,
        balance_after: int,
        online_seq: int,
        amount: int,
        trans_type: int,
        terminal_id: bytes,
        time: bytes,
    ) -> bytes:
        """TAC of a load (card, checked by the issuer)."""
        data = self.load_tac_data(
            balance_after, online_seq, amount, trans_type, terminal_id, time
        )
        return self.mac(tac_key, data)

    def purchase_mac1(
        self, sespk: bytes, amount: int, trans_type: int, terminal_id: bytes, time: bytes
    ) -> bytes:
        """MAC1 of DEBIT FOR PURCHASE (terminal to card)."""
        return self.mac(sespk, self.purchase_mac1_data(amount, trans_type, terminal_id, time))

    def purchase_mac2(self, sespk: bytes, amount: int) -> bytes:
        """MAC2 of DEBIT FOR PURCHASE (card to terminal)."""
        return self.mac(sespk, self.purchase_mac2_data(amount))

    def purchase_tac(
        self,
        tac_key: CipherKey,
        amount: int,
        trans_type: int,
        terminal_id: bytes,
        terminal_seq: int,
        time: bytes,
    ) -> bytes:
        """TAC of a purchase (card, checked by the issuer)."""
        data = self.purchase_tac_data(amount, trans_type, terminal_id, terminal_seq, time)
        return self.mac(tac_key, data)
