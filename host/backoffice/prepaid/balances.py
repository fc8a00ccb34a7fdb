"""What a holder sees of a network account: every sub-card with its live principal, bonus
and balance — now, or as of any time from the live records (F15)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from host.backoffice.clock import to_micros
from host.backoffice.errors import NotFoundError
from host.backoffice.prepaid.records import load_cards
from host.backoffice.prepaid.schema import pp_cards, pp_movements

__all__ = ["account_balance"]

_M = pp_movements


def account_balance(conn: Connection, account_id: str, *, as_of: datetime | None = None
                    ) -> dict[str, Any]:
    """The account's cards and totals; with ``as_of``, the balances the live records gave
    at that time (cards issued later show nothing)."""
    cards = load_cards(conn, pp_cards.c.account_id == account_id)
    if not cards:
        raise NotFoundError(f"no prepaid account {account_id!r}")
    lines = [card.as_dict() for card in cards]
    if as_of is not None:
        past = _as_of(conn, [c.card_no for c in cards], to_micros(as_of))
        for line in lines:
            line["principal"], line["bonus"] = past.get(line["card"], (0, 0))
            line["balance"] = line["principal"] + line["bonus"]
    return {"account": account_id, "holder": cards[0].holder_id,
            "program": cards[0].program_id, "merchant": cards[0].merchant_id,
            "as_of": None if as_of is None else as_of.isoformat(),
            "principal": sum(line["principal"] for line in lines),
            "bonus": sum(line["bonus"] for line in lines),
            "balance": sum(line["balance"] for line in lines), "cards": lines}


def _as_of(conn: Connection, card_nos: list[str], until: int) -> dict[str, tuple[int, int]]:
    query = (select(_M.c.card_no, func.sum(_M.c.principal_delta), func.sum(_M.c.bonus_delta))
             .where(_M.c.card_no.in_(card_nos), _M.c.ts <= until).group_by(_M.c.card_no))
    return {no: (int(p), int(b)) for no, p, b in conn.execute(query)}
