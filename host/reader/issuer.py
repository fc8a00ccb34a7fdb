"""The issuer's side of a binding: BIND READER and UNBIND READER, MACed for one challenge.

The issuer derives the card's SMI/SMC master keys from its own master keys and the
card's PAN/PSN (as for issuer scripts), then session keys with ``R = card challenge``:
the binding key travels enciphered, and each command is good for the one challenge
and binding counter it was made for.
"""

from __future__ import annotations

from apdu_specs.commands.binding import BIND_READER, UNBIND_READER
from apdu_specs.payment.binding import READER_ID_LENGTH, BindingStatus
from apdu_specs.payment.cryptogram import SCRIPT_MAC_LENGTH, IssuerMasterKeys

from .client import CardIdentity
from .errors import ReaderKeyError

__all__ = ["BindingIssuer"]


class BindingIssuer:
    def __init__(self, keys: IssuerMasterKeys) -> None:
        self._keys = keys

    def __repr__(self) -> str:
        return "BindingIssuer(…)"

    def _signed(self, header: bytes, body: bytes, card: CardIdentity, status: BindingStatus,
                challenge: bytes) -> bytes:
        version = status.version
        mk = version.icc_master_keys(self._keys, card.pan, card.psn)
        lc = len(body) + SCRIPT_MAC_LENGTH
        full_header = header + bytes([lc])
        mac = version.script_mac(version.sm_session_key(mk.smi, challenge), full_header,
                                 status.counter, challenge, body)
        return full_header + body + mac

    def bind_command(self, card: CardIdentity, status: BindingStatus, challenge: bytes,
                     reader_id: bytes, binding_key: bytes) -> bytes:
        """BIND READER (P1 00) or, for a bound card, rebind (P1 01) to ``reader_id``."""
        version = status.version
        if len(reader_id) != READER_ID_LENGTH or len(binding_key) != version.key_length:
            raise ReaderKeyError(f"a reader id has {READER_ID_LENGTH} bytes and a binding key "
                                 f"{version.key_length}")
        mk = version.icc_master_keys(self._keys, card.pan, card.psn)
        wrapped = version.encipher(version.sm_session_key(mk.smc, challenge), binding_key)
        header = bytes([BIND_READER.cla, BIND_READER.ins, 0x01 if status.bound else 0x00, 0x00])
        return self._signed(header, reader_id + wrapped, card, status, challenge)

    def unbind_command(self, card: CardIdentity, status: BindingStatus, challenge: bytes) -> bytes:
        header = bytes([UNBIND_READER.cla, UNBIND_READER.ins, 0x00, 0x00])
        return self._signed(header, b"", card, status, challenge)
