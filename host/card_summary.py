"""What a card's applications hold, read without changing anything on the card.

``dualcard card info`` shows it next to the security domain's view: the holder and
masked PAN of each payment application (chip 1) and the balances and logs of the
purses (chip 2). Reading never starts a transaction: GET PROCESSING OPTIONS would
spend an ATC, so records are read directly, SFI by SFI, until the card says 6A83.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apdu_specs.commands.purse_data import PURSE_AID, Purse
from apdu_specs.sw import SW, CardError

from .payment.card_data import CardData, CardDataError
from .payment.client import PaymentClient
from .points.client import PointsClient
from .transport.base import Transport

__all__ = ["PaymentAppSummary", "PointsSummary", "payment_summary", "points_summary"]

#: SFIs where payment applications keep their records (EMV Book 3: 1..10)
_RECORD_SFIS = range(1, 11)
_MAX_RECORDS = 16


@dataclass(frozen=True)
class PaymentAppSummary:
    aid: bytes
    label: str
    masked_pan: str
    holder: str
    expiry: str  #: YYMMDD
    atc: int | None
    pin_tries: int | None
    offline_limit: int | None
    credit_limit: int | None
    blocked: bool

    def to_json(self) -> dict[str, Any]:
        return {"aid": self.aid.hex().upper(), "label": self.label, "pan": self.masked_pan,
                "holder": self.holder, "expiry": self.expiry, "atc": self.atc,
                "pin_tries": self.pin_tries, "offline_limit": self.offline_limit,
                "credit_limit": self.credit_limit, "blocked": self.blocked}


@dataclass(frozen=True)
class PointsSummary:
    card_identity: str
    balances: dict[Purse, int]
    logs: dict[Purse, list[dict[str, Any]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"card": self.card_identity,
                "balances": {p.label: b for p, b in self.balances.items()},
                "logs": {p.label: entries for p, entries in self.logs.items()}}


def _records(client: PaymentClient) -> list[bytes]:
    out = []
    for sfi in _RECORD_SFIS:
        for number in range(1, _MAX_RECORDS + 1):
            try:
                out.append(client.read_record(sfi, number))
            except CardError as exc:
                if exc.sw in (SW.RECORD_NOT_FOUND, SW.FILE_NOT_FOUND):
                    break
                raise
    return out


def payment_summary(transport: Transport) -> list[PaymentAppSummary]:
    """Every payment application the directory lists, with its holder data (PAN masked)."""
    client = PaymentClient(transport)
    try:
        entries = client.list_applications()
    except CardError as exc:
        if exc.sw == SW.FILE_NOT_FOUND:
            return []
        raise
    out = []
    for entry in entries:
        fci = client.select_application(entry.aid)
        try:
            data = CardData.from_records(_records(client))
        except CardDataError:
            continue
        counters = client.read_counters()
        out.append(PaymentAppSummary(
            entry.aid, entry.label, data.masked_pan, data.cardholder_name, data.expiry,
            counters.atc, counters.pin_tries_left, counters.offline_limit, counters.credit_limit,
            fci.blocked))
    return out


def points_summary(transport: Transport, *, log: bool = True) -> PointsSummary | None:
    """Balances (and logs) of the purses, or None when the chip carries no purse."""
    client = PointsClient(transport, aid=PURSE_AID)
    try:
        client.select()
    except CardError as exc:
        if exc.sw == SW.FILE_NOT_FOUND:
            return None
        raise
    balances = client.balances()
    logs = {}
    if log:
        for purse in balances:
            logs[purse] = [{"type": r.txn_type.name.lower(), "amount": r.amount,
                            "balance_after": r.balance_after, "card_seq": r.card_seq,
                            "terminal": r.terminal_id.hex().upper(),
                            "when": r.when.isoformat(sep=" "), "tac": r.tac.hex().upper()}
                           for r in client.read_log(purse)]
    return PointsSummary(client.card_identity, balances, logs)
