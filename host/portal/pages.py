"""The portal's pages: one function per route, each a few lines over :mod:`.views`.

:data:`ROUTES` lists them as (path, methods, who may see it, handler); :class:`~.app.Portal`
checks the session, the role and the CSRF token before any handler runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from starlette.responses import RedirectResponse, Response

from host.backoffice.assets import Asset
from host.backoffice.prepaid import PrepaidOffice
from host.backoffice.prepaid.errors import ClaimStateError

from . import centre_views, prepaid_views, terminal_views, views
from .app import HOME, LANG_COOKIE, SESSION_COOKIE, Access, Portal, Visit, fen, safe_next
from .auth import PortalRole
from .i18n import LANGUAGES, text

__all__ = ["ROUTES"]

#: the months of spending the centre's page draws (the newest)
_MONTHS = 6


def root(portal: Portal, visit: Visit) -> Response:
    session = visit.session  # looked up by the portal before any page
    target = HOME[session.role] if session is not None else "/login"
    return RedirectResponse(f"{visit.base}{target}", 303)


def login_form(portal: Portal, visit: Visit) -> Response:
    return portal.render(visit, "login.html", error="", seconds=0, login="")


def login(portal: Portal, visit: Visit) -> Response:
    return portal.login(visit)


def logout(portal: Portal, visit: Visit) -> Response:
    portal.sessions.end(visit.cookies.get(SESSION_COOKIE))
    visit.set_cookies.append((SESSION_COOKIE, "", 0, True))
    return RedirectResponse(f"{visit.base}/login", 303)


def password_form(portal: Portal, visit: Visit) -> Response:
    return portal.render(visit, "password.html", error="", done=False)


def password(portal: Portal, visit: Visit) -> Response:
    return portal.change_password(visit)


def reset_form(portal: Portal, visit: Visit) -> Response:
    return portal.render(visit, "reset.html", error="", login="")


def reset(portal: Portal, visit: Visit) -> Response:
    return portal.reset(visit)


def language(portal: Portal, visit: Visit) -> Response:
    """Switch the language (a cookie for a year) and go back to the page it was asked on."""
    code = visit.params["code"]
    if code in LANGUAGES:
        visit.set_cookies.append((LANG_COOKIE, code, 365 * 86400, False))
    back = safe_next(visit.base, visit.form.get("next", "") or visit.base + "/")
    return RedirectResponse(back, 303)


def consumer(portal: Portal, visit: Visit) -> Response:
    assert visit.session is not None
    data = portal.read(views.consumer_view, visit.session.member_id, portal.clock())
    bars = [(text(f"asset_{asset}", visit.lang), balance, f"{balance:,}")
            for asset, _, balance in data["purses"]]
    spent = [(merchant, total, fen(total)) for merchant, _, total in data["spending"]]
    return portal.render(visit, "consumer.html", bars=bars, spent=spent, **data)


def history(portal: Portal, visit: Visit) -> Response:
    assert visit.session is not None
    account = visit.params["account"]
    found = portal.read(views.history_of, visit.session.member_id, account,
                        operator=visit.session.role is PortalRole.OPERATOR)
    if found is None:
        return portal.message(visit, "not_found", 404)
    asset, entries = found
    money = asset in (Asset.CNY.value, "cny")
    return portal.render(visit, "history.html", account=account, asset=asset, entries=entries,
                         shown=(lambda n: fen(n)) if money else (lambda n: f"{n:,}"))


def merchant(portal: Portal, visit: Visit) -> Response:
    assert visit.session is not None
    data = portal.read(views.merchant_view, visit.session.member_id, portal.clock())
    position = data["position"]
    lang = visit.lang
    bars = [(text("points_awarded", lang), position["awarded"], f"{position['awarded']:,}"),
            (text("points_redeemed", lang), position["redeemed"], f"{position['redeemed']:,}")]
    return portal.render(visit, "merchant.html", bars=bars, **data)


def batch(portal: Portal, visit: Visit) -> Response:
    assert visit.session is not None
    found = portal.read(views.batch_of, visit.session.member_id, visit.params["batch"],
                        operator=visit.session.role is PortalRole.OPERATOR)
    if found is None:
        return portal.message(visit, "not_found", 404)
    return portal.render(visit, "batch.html", batch=found)


def insurer(portal: Portal, visit: Visit) -> Response:
    assert visit.session is not None
    data = portal.read(views.insurer_view, visit.session.member_id)
    bars = [(policy or "-", amount, fen(amount)) for policy, amount in data["per_policy"]]
    return portal.render(visit, "insurer.html", bars=bars, **data)


def operator(portal: Portal, visit: Visit) -> Response:
    data = portal.read(views.operator_view)
    bars = [(text(f"notice_{kind}", visit.lang), waiting, f"{waiting:,}")
            for kind, _, waiting in data["outbox"]]
    return portal.render(visit, "operator.html", bars=bars, **data)


def consumer_prepaid(portal: Portal, visit: Visit) -> Response:
    assert visit.session is not None
    data = portal.read(prepaid_views.consumer_prepaid, visit.session.member_id)
    bars = [(a["account"], a["balance"], fen(a["balance"])) for a in data["accounts"]]
    return portal.render(visit, "prepaid_consumer.html", bars=bars, **data)


def merchant_prepaid(portal: Portal, visit: Visit) -> Response:
    assert visit.session is not None
    data = portal.read(prepaid_views.merchant_prepaid, visit.session.member_id)
    bars = [(p["program"], p["live"], fen(p["live"])) for p in data["programs"]]
    return portal.render(visit, "prepaid_merchant.html", bars=bars, **data)


def insurer_prepaid(portal: Portal, visit: Visit, error: str = "", status: int = 200
                    ) -> Response:
    assert visit.session is not None
    data = portal.read(prepaid_views.insurer_prepaid, visit.session.member_id)
    bars = [(e["merchant"], e["live"], fen(e["live"])) for e in data["exposure"]]
    return portal.render(visit, "prepaid_insurer.html", status, bars=bars, error=error, **data)


def review_claim(portal: Portal, visit: Visit) -> Response:
    """The insurer's decision on a claim of its own policies (any other claim: not found)."""
    assert visit.session is not None
    claim = visit.params["claim"]
    if not portal.read(prepaid_views.claim_of_insurer, visit.session.member_id, claim):
        return portal.message(visit, "not_found", 404)
    decision = visit.form.get("decision", "")
    if decision not in ("approve", "reject"):
        return insurer_prepaid(portal, visit, "decision_missing", 400)
    try:
        PrepaidOffice(portal.db).review_claim(claim, approve=decision == "approve",
                                              note=visit.form.get("note", "")[:200],
                                              at=portal.clock())
    except ClaimStateError:
        return insurer_prepaid(portal, visit, "claim_decided", 409)
    return RedirectResponse(f"{visit.base}/insurer/prepaid", 303)


def reconciliation(portal: Portal, visit: Visit) -> Response:
    """The prepaid reconciliation of a business day (``/operator/reconcile/2025-06-18``),
    by default today's."""
    day_text = visit.params.get("day")
    try:
        day = dt.date.fromisoformat(day_text) if day_text else portal.business_day()
    except ValueError:
        return portal.message(visit, "not_found", 404)
    data = prepaid_views.operator_reconciliation(portal.db, day)
    bars = [(m["merchant"], m["cards_in_ledger"], fen(m["cards_in_ledger"]))
            for m in data["merchants"]]
    return portal.render(visit, "reconcile.html", bars=bars, **data)


def consumer_centre(portal: Portal, visit: Visit) -> Response:
    """The settlement centre's three tiers, bills, orders and the spending per month."""
    assert visit.session is not None
    data = portal.read(centre_views.consumer_centre, visit.session.member_id)
    months = sorted(data.get("months", {}).items(), reverse=True)[:_MONTHS]
    charts = [(month, [(text(f"category_{c}", visit.lang), fen_, fen(fen_))
                       for c, fen_ in spent.items()]) for month, spent in months]
    return portal.render(visit, "centre_consumer.html", charts=charts,
                         recent=dict(months), **data)


def merchant_orders(portal: Portal, visit: Visit) -> Response:
    assert visit.session is not None
    data = portal.read(centre_views.merchant_orders, visit.session.member_id)
    return portal.render(visit, "orders_merchant.html", **data)


def notices(portal: Portal, visit: Visit) -> Response:
    """The service host's inbox: every notice, the ones never shown before marked new."""
    assert visit.session is not None
    entries = centre_views.inbox(portal.db, visit.session.member_id, at=portal.clock())
    return portal.render(visit, "inbox.html", entries=entries)


_ANY, _OPEN = Access.LOGGED_IN, Access.PUBLIC
ROUTES: list[tuple[str, list[str], Access | PortalRole, Callable[[Portal, Visit], Response]]] = [
    ("/", ["GET"], _OPEN, root),
    ("/login", ["GET"], _OPEN, login_form),
    ("/login", ["POST"], _OPEN, login),
    ("/reset", ["GET"], _OPEN, reset_form),
    ("/reset", ["POST"], _OPEN, reset),
    ("/lang/{code}", ["POST"], _OPEN, language),
    ("/logout", ["POST"], _ANY, logout),
    ("/password", ["GET"], _ANY, password_form),
    ("/password", ["POST"], _ANY, password),
    ("/history/{account}", ["GET"], _ANY, history),
    ("/me", ["GET"], PortalRole.CONSUMER, consumer),
    ("/merchant", ["GET"], PortalRole.MERCHANT, merchant),
    ("/batch/{batch}", ["GET"], _ANY, batch),
    ("/insurer", ["GET"], PortalRole.INSURER, insurer),
    ("/operator", ["GET"], PortalRole.OPERATOR, operator),
    ("/me/prepaid", ["GET"], PortalRole.CONSUMER, consumer_prepaid),
    ("/merchant/prepaid", ["GET"], PortalRole.MERCHANT, merchant_prepaid),
    ("/insurer/prepaid", ["GET"], PortalRole.INSURER, insurer_prepaid),
    ("/insurer/claim/{claim}", ["POST"], PortalRole.INSURER, review_claim),
    ("/me/centre", ["GET"], PortalRole.CONSUMER, consumer_centre),
    ("/merchant/orders", ["GET"], PortalRole.MERCHANT, merchant_orders),
    ("/notices", ["GET"], _ANY, notices),
    ("/operator/reconcile", ["GET"], PortalRole.OPERATOR, reconciliation),
    ("/operator/reconcile/{day}", ["GET"], PortalRole.OPERATOR, reconciliation),
    ("/operator/terminals", ["GET"], PortalRole.OPERATOR, terminal_views.terminals),
    ("/operator/terminals", ["POST"], PortalRole.OPERATOR, terminal_views.enrol),
    ("/operator/terminals/{terminal}/block", ["POST"], PortalRole.OPERATOR,
     terminal_views.block),
    ("/operator/terminals/{terminal}/unblock", ["POST"], PortalRole.OPERATOR,
     terminal_views.unblock),
]
