"""What each role sees of the prepaid cards (F13–F16), read from the prepaid tables: a
holder's cards with their live balances, policies and claims; a merchant's programs (each
with its per-card caps, registered and anonymous) and the cards issued under each; an
insurer's rate table, the programs it insures, its policies, its exposure per merchant and
the claims it reviews; the operator's daily reconciliation. Like :mod:`.views`, every function takes the
logged-in member's id and reads only what that member owns; an alliance without prepaid
programs yet (no prepaid tables) shows empty pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, select

from host.backoffice.clock import from_micros
from host.backoffice.prepaid.balances import account_balance
from host.backoffice.prepaid.policies import list_policies
from host.backoffice.prepaid.program_store import list_programs
from host.backoffice.prepaid.programs import HolderKind, Program
from host.backoffice.prepaid.rate_store import list_rates
from host.backoffice.prepaid.reconcile import reconcile
from host.backoffice.prepaid.schema import (
    pp_accounts,
    pp_cards,
    pp_claim_lines,
    pp_claims,
    pp_policies,
    pp_programs,
    pp_rates,
)

__all__ = ["claim_of_insurer", "consumer_prepaid", "has_prepaid", "insurer_prepaid",
           "merchant_prepaid", "operator_reconciliation"]

_C, _L, _P = pp_cards, pp_claim_lines, pp_policies
#: the most policies a page lists (the exposure sums them all)
_POLICIES = 200
#: card states whose balance an insurer still carries (a claimed card has been paid out)
_LIVE = ("active", "frozen")


def has_prepaid(conn: Connection) -> bool:
    """Whether the alliance has prepaid tables (made with its first program)."""
    return bool(conn.dialect.has_table(conn, pp_programs.name))


def consumer_prepaid(conn: Connection, holder_id: str) -> dict[str, Any]:
    """The holder's prepaid accounts (each card's live principal, bonus, balance), the
    policy of every card, and the claims that froze or paid any of them."""
    if not has_prepaid(conn):
        return {"accounts": [], "policies": [], "claims": []}
    ids = conn.execute(select(pp_accounts.c.id).where(pp_accounts.c.holder_id == holder_id)
                       .order_by(pp_accounts.c.created_at, pp_accounts.c.id)).scalars().all()
    claims = conn.execute(
        select(pp_claims.c.id, pp_claims.c.merchant_id, pp_claims.c.trigger, pp_claims.c.status,
               func.count(), func.sum(_L.c.payout))
        .join(_L, _L.c.claim_id == pp_claims.c.id).where(_L.c.holder_id == holder_id)
        .group_by(pp_claims.c.id, pp_claims.c.merchant_id, pp_claims.c.trigger,
                  pp_claims.c.status).order_by(pp_claims.c.id)).all()
    return {"accounts": [account_balance(conn, a) for a in ids],
            "policies": list_policies(conn, holder_id=holder_id, limit=_POLICIES),
            "claims": [{"claim": c[0], "merchant": c[1], "trigger": c[2], "state": c[3],
                        "cards": int(c[4]), "payout": int(c[5] or 0)} for c in claims]}


def merchant_prepaid(conn: Connection, merchant_id: str) -> dict[str, Any]:
    """The merchant's programs, each with the cards issued, what was sold and what is left
    on them (the money it holds in custody for its holders)."""
    if not has_prepaid(conn):
        return {"programs": []}
    issued = {r.program_id: r for r in conn.execute(
        select(_C.c.program_id, func.count().label("cards"),
               func.sum(_C.c.principal_paid).label("sold"),
               func.sum(_C.c.principal_left + _C.c.bonus_left).label("live"))
        .where(_C.c.merchant_id == merchant_id).group_by(_C.c.program_id))}
    return {"programs": [{**_program(p), "cards": int(issued[p.id].cards) if p.id in issued else 0,
                          "sold": int(issued[p.id].sold or 0) if p.id in issued else 0,
                          "live": int(issued[p.id].live or 0) if p.id in issued else 0}
                         for p in list_programs(conn, merchant_id)]}


def _program(program: Program) -> dict[str, Any]:
    """A program's terms as the pages show them: both per-card caps, as the office applies
    them (an anonymous cap left unset is the default, or the registered cap if lower)."""
    return {"program": program.id, "merchant": program.merchant_id,
            "kind": program.kind.value, "insurer": program.insurer_id,
            "card_cap": program.card_cap, "anonymous_cap": program.cap(HolderKind.ANONYMOUS),
            "premium_bp": program.premium_bp}


def insurer_prepaid(conn: Connection, insurer_id: str) -> dict[str, Any]:
    """The insurer's rate table and the programs it insures (with their caps), its
    policies, its exposure per merchant (the live balances of the cards it insures, with the
    sums insured), and the claims holding any of its policies."""
    if not has_prepaid(conn):
        return {"policies": [], "exposure": [], "claims": [], "rates": [], "programs": []}
    rows = conn.execute(
        select(_P.c.merchant_id, func.count(), func.sum(_C.c.principal_left + _C.c.bonus_left),
               func.sum(_P.c.sum_insured))
        .join(_C, _C.c.card_no == _P.c.card_no)
        .where(_P.c.insurer_id == insurer_id, _C.c.status.in_(_LIVE))
        .group_by(_P.c.merchant_id).order_by(_P.c.merchant_id)).all()
    claim_ids = select(_L.c.claim_id).where(_L.c.insurer_id == insurer_id).distinct()
    claims = conn.execute(select(pp_claims).where(pp_claims.c.id.in_(claim_ids))
                          .order_by(pp_claims.c.status != "open", pp_claims.c.id)).all()
    return {"rates": _rates(conn, insurer_id),
            "programs": [_program(p) for p in list_programs(conn) if p.insurer_id == insurer_id],
            "policies": list_policies(conn, insurer_id=insurer_id, limit=_POLICIES),
            "exposure": [{"merchant": m, "cards": int(n), "live": int(live or 0),
                          "insured": int(insured or 0)} for m, n, live, insured in rows],
            "claims": [_claim_row(conn, c, insurer_id) for c in claims]}


def _rates(conn: Connection, insurer_id: str) -> list[dict[str, Any]]:
    """The insurer's rate table, row by row (none: its programs' flat rates price its
    policies; a database made before rate tables has none)."""
    if not conn.dialect.has_table(conn, pp_rates.name):
        return []
    return [row.as_dict() for row in list_rates(conn, [insurer_id])]


def _claim_row(conn: Connection, claim: Any, insurer_id: str) -> dict[str, Any]:
    """A claim as the insurer reviews it: its cards and payout under this insurer's
    policies, and whether another insurer's policies are in it too."""
    lines = conn.execute(select(_L.c.insurer_id, func.count(), func.sum(_L.c.principal + _L.c.bonus),
                                func.sum(_L.c.payout))
                         .where(_L.c.claim_id == claim.id).group_by(_L.c.insurer_id)).all()
    mine = [line for line in lines if line[0] == insurer_id]
    return {"claim": claim.id, "merchant": claim.merchant_id, "trigger": claim.trigger,
            "trigger_at": from_micros(claim.trigger_at), "state": claim.status,
            "note": claim.note or "", "cards": sum(int(line[1]) for line in mine),
            "live": sum(int(line[2] or 0) for line in mine),
            "payout": sum(int(line[3] or 0) for line in mine),
            "shared": len(mine) != len(lines)}


def claim_of_insurer(conn: Connection, insurer_id: str, claim_id: str) -> bool:
    """Whether the insurer may decide ``claim_id``: the claim holds its policies and no
    other insurer's (a claim shared between insurers is decided by the operator)."""
    if not has_prepaid(conn):
        return False
    insurers = set(conn.execute(select(_L.c.insurer_id).distinct()
                                .where(_L.c.claim_id == claim_id)).scalars())
    return insurers == {insurer_id}


def operator_reconciliation(db: Any, day: dt.date) -> dict[str, Any]:
    """Every merchant's cards, custody and live records at the end of ``day`` (F15)."""
    with db.read() as conn:
        if not has_prepaid(conn):
            return {"date": day.isoformat(), "merchants": [], "ok": True}
    return reconcile(db, day)
