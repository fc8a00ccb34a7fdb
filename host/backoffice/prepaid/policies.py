"""The per-card policies (F14), listed per merchant, holder or insurer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from host.backoffice.clock import from_micros
from host.backoffice.prepaid.schema import pp_policies

__all__ = ["list_policies"]

_P = pp_policies


def list_policies(conn: Connection, *, merchant_id: str | None = None,
                  holder_id: str | None = None, insurer_id: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
    """Policies matching every filter given, by card number."""
    query = select(_P).order_by(_P.c.card_no)
    for column, wanted in ((_P.c.merchant_id, merchant_id), (_P.c.holder_id, holder_id),
                           (_P.c.insurer_id, insurer_id)):
        if wanted is not None:
            query = query.where(column == wanted)
    if limit is not None:
        query = query.limit(limit)
    return [{"policy": r.id, "card": r.card_no, "insurer": r.insurer_id,
             "merchant": r.merchant_id, "holder": r.holder_id, "sum_insured": r.sum_insured,
             "premium": r.premium, "rate_bp": r.rate_bp, "rate_row": r.rate_row,
             "starts": from_micros(r.starts_at).isoformat(),
             "ends": from_micros(r.ends_at).isoformat()} for r in conn.execute(query)]
