"""A chip 2 movement whose answer never came, kept as JSON so it survives the terminal.

Before CREDIT FOR LOAD or DEBIT FOR PURCHASE is sent, the terminal journals what it
will need to ask the card later (GET TRANSACTION PROVE): the issuer's load
authorisation, or the purchase's INITIALIZE answer and MAC1. Nothing here holds a key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from apdu_specs.commands.purse_data import Purse
from host.points.client import PendingPurchase
from host.points.load_host import LoadAuthorization
from host.points.messages import LoadInit, PurchaseInit
from host.points.security_module import PurchaseAuthorization

from .errors import JournalError

__all__ = ["pending_from_dict", "pending_to_dict"]

Pending = LoadAuthorization | PendingPurchase


def _plain(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, Purse):
            value = int(value)
        elif isinstance(value, dt.datetime):
            value = value.isoformat()
        out[f.name] = value
    return out


def _init_fields(data: dict[str, Any], binary: tuple[str, ...]) -> dict[str, Any]:
    fields = dict(data)
    fields["purse"] = Purse(fields["purse"])
    for name in binary:
        fields[name] = bytes.fromhex(fields[name])
    return fields


def pending_to_dict(pending: Pending) -> dict[str, Any]:
    """JSON-ready form of a pending load or purchase."""
    if isinstance(pending, LoadAuthorization):
        return {"kind": "load", "card_identity": pending.card_identity,
                "init": _plain(pending.init), "when": pending.when.isoformat(),
                "mac2": pending.mac2.hex()}
    return {"kind": "purchase", "card_identity": pending.card_identity,
            "init": _plain(pending.init), "authorization": _plain(pending.authorization)}


def pending_from_dict(data: dict[str, Any]) -> Pending:
    """Inverse of :func:`pending_to_dict`; :class:`JournalError` for anything else."""
    try:
        if data["kind"] == "load":
            init = LoadInit(**_init_fields(data["init"], ("terminal_id", "random", "mac1")))
            return LoadAuthorization(data["card_identity"], init,
                                     dt.datetime.fromisoformat(data["when"]),
                                     bytes.fromhex(data["mac2"]))
        if data["kind"] == "purchase":
            purchase_init = PurchaseInit(**_init_fields(data["init"], ("terminal_id", "random")))
            auth = data["authorization"]
            return PendingPurchase(data["card_identity"], purchase_init, PurchaseAuthorization(
                auth["terminal_seq"], dt.datetime.fromisoformat(auth["when"]),
                bytes.fromhex(auth["mac1"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError(f"a pending movement in the journal is unreadable: {exc}") from None
    raise JournalError(f"unknown pending movement kind {data.get('kind')!r}")
