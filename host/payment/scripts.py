"""Issuer script commands the back office sends through a transaction (EMV Book 3 §6.5).

Each function takes the :class:`~apdu_specs.payment.script.ScriptKeying` of the
transaction's ARQC (from :meth:`host.payment.issuer.Issuer.script_session`: its session keys
in this process or in an HSM) and
returns the complete command with its MAC. The credit-granting unit raises a
card's limits with :func:`set_offline_limit` / :func:`set_credit_limit`.
"""

from __future__ import annotations

from collections.abc import Callable

from apdu_specs.commands.payment import (
    APPLICATION_BLOCK,
    APPLICATION_UNBLOCK,
    PIN_CHANGE_UNBLOCK,
    PUT_DATA_SCRIPT,
)
from apdu_specs.payment import dgi as D
from apdu_specs.payment.pin_block import encode_pin_block
from apdu_specs.payment.script import ScriptKeying

__all__ = [
    "ScriptOrder",
    "application_block",
    "application_unblock",
    "pin_change",
    "pin_unblock",
    "set_credit_limit",
    "set_offline_limit",
]

#: a script command still to be keyed: the issuer calls it with the transaction's session
ScriptOrder = Callable[[ScriptKeying], bytes]


def _put_data(session: ScriptKeying, tag: int, value: bytes) -> bytes:
    return session.command(PUT_DATA_SCRIPT, {"tag_high": tag >> 8, "tag_low": tag & 0xFF}, value)


def set_offline_limit(session: ScriptKeying, amount: int) -> bytes:
    """PUT DATA DF10: the cumulative amount the card may approve offline (minor units)."""
    return _put_data(session, D.TAG_OFFLINE_LIMIT, D.encode_limit(amount))


def set_credit_limit(session: ScriptKeying, amount: int) -> bytes:
    """PUT DATA DF11: the credit application's credit limit (minor units)."""
    return _put_data(session, D.TAG_CREDIT_LIMIT, D.encode_limit(amount))


def pin_unblock(session: ScriptKeying) -> bytes:
    """PIN CHANGE/UNBLOCK P2 00: reset the PIN try counter."""
    return session.command(PIN_CHANGE_UNBLOCK, {"operation": 0x00})


def pin_change(session: ScriptKeying, new_pin: str) -> bytes:
    """PIN CHANGE/UNBLOCK P2 02: a new PIN, enciphered with SK-SMC."""
    enciphered = session.encipher(encode_pin_block(new_pin))
    return session.command(PIN_CHANGE_UNBLOCK, {"operation": 0x02}, enciphered)


def application_block(session: ScriptKeying) -> bytes:
    return session.command(APPLICATION_BLOCK, {})


def application_unblock(session: ScriptKeying) -> bytes:
    return session.command(APPLICATION_UNBLOCK, {})
