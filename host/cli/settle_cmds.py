"""``dualcard settle …``: the settlement centre (F22–F25) from the command line.

Like ``dualcard ledger`` every command takes ``--db URL`` and ``--json``; amounts are integers
in fen; times are ISO 8601 with a UTC offset (``--at`` defaults to now). The bank is the
simulated bank kept in the same database (``dualcard settle bank deposit``).

Exit codes: 0 ok · 1 refused by the centre, the ledger or the database · 2 bad arguments.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from host.backoffice import BackOffice
from host.backoffice.centre import (
    Condition,
    OrderRequest,
    ReleaseBy,
    SettlementCentre,
    SimulatedBank,
    Tier,
    TierSettings,
)
from host.backoffice.centre.escrow import Outcome
from host.cli.ledger_cmds import ISO_TIME, _command_options, _fen, _now, _Out

__all__ = ["settle"]

_TIERS = [Tier.VIRTUAL.value, Tier.SETTLEMENT.value]


def _centre(office: BackOffice) -> SettlementCentre:
    return SettlementCentre(office.db)


@click.group("settle")
def settle() -> None:
    """The settlement centre: three tiers of accounts, capped top-up, escrowed orders."""


# -- accounts --------------------------------------------------------------------------------


@settle.group("account")
def account_group() -> None:
    """A holder's virtual, settlement and bank accounts."""


@account_group.command("open")
@click.argument("holder")
@click.option("--bank-account", required=True, help="The holder's account at the bank.")
@click.option("--address", "addresses", multiple=True, required=True,
              help="A delivery address on file (repeat for more).")
@click.option("--cap", type=int, required=True, help="Settlement account cap, fen.")
@click.option("--threshold", type=int, required=True, help="Top up when below this, fen.")
@click.option("--credit-limit", type=int, required=True, help="Virtual account's line, fen.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def account_open(office: BackOffice, out: _Out, holder: str, bank_account: str,
                 addresses: tuple[str, ...], cap: int, threshold: int, credit_limit: int,
                 at: datetime | None) -> None:
    """[!] Open a consumer's tiers and fill the settlement account from the bank."""
    centre = _centre(office)
    status = centre.open_account(holder, TierSettings(cap, threshold, credit_limit),
                                 bank_account=bank_account, addresses=addresses, at=_now(at))
    shown = centre.balances(holder)
    out.emit({"status": status, **shown}, lambda: [f"holder {holder} {status}", *_tiers(shown)])


@account_group.command("show")
@click.argument("holder")
@_command_options
def account_show(office: BackOffice, out: _Out, holder: str) -> None:
    """The three tiers' balances."""
    shown = _centre(office).balances(holder)
    out.emit(shown, lambda: _tiers(shown))


@account_group.command("transfer")
@click.argument("holder")
@click.option("--from", "source", type=click.Choice(_TIERS), required=True)
@click.option("--to", "target", type=click.Choice(_TIERS), required=True)
@click.option("--amount", type=int, required=True, help="Fen.")
@click.option("--id", "request_id", required=True, help="Client id (retry-safe).")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def account_transfer(office: BackOffice, out: _Out, holder: str, source: str, target: str,
                     amount: int, request_id: str, at: datetime | None) -> None:
    """[!] Move money between the holder's own accounts."""
    centre = _centre(office)
    centre.transfer(holder, request_id, Tier(source), Tier(target), amount, at=_now(at))
    shown = centre.balances(holder)
    out.emit(shown, lambda: [f"moved {_fen(amount)} CNY {source} -> {target}", *_tiers(shown)])


def _tiers(shown: dict[str, Any]) -> list[str]:
    v, s = shown["virtual"], shown["settlement"]
    rows = [
        f"  virtual     {_fen(v['posted']):>12} CNY  held {_fen(v['pending_out']):>10}  "
        f"credit line {_fen(v['credit_line'])}",
        f"  settlement  {_fen(s['posted']):>12} CNY  cap {_fen(s['cap'])}, "
        f"top up below {_fen(s['threshold'])}"
        + (f", {_fen(s['pending_in'])} on its way" if s["pending_in"] else ""),
    ]
    if "bank" in shown:
        rows.append(f"  bank        {_fen(shown['bank']['posted']):>12} CNY  "
                    f"({shown['bank']['account']})")
    return rows


@settle.group("bank")
def bank_group() -> None:
    """The simulated bank (tests and demos; a real bank plugs in behind the same gateway)."""


@bank_group.command("deposit")
@click.argument("bank_account")
@click.option("--amount", type=int, required=True, help="Fen.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def bank_deposit(office: BackOffice, out: _Out, bank_account: str, amount: int,
                 at: datetime | None) -> None:
    """[!] Open an account at the simulated bank (if new) and pay money in."""
    bank = SimulatedBank(_centre(office).ledger)
    bank.open_account(bank_account, deposit=amount, at=_now(at))
    balance = bank.balance(bank_account)
    out.emit({"account": bank_account, "posted": balance},
             lambda: [f"bank account {bank_account}: {_fen(balance)} CNY"])


# -- top-ups ---------------------------------------------------------------------------------


@settle.group("topup")
def topup_group() -> None:
    """Top-ups of the settlement account from the bank (automatic below the threshold)."""


@topup_group.command("bank")
@click.argument("holder")
@click.option("--amount", type=int, default=None, help="Fen [up to the cap].")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def topup_bank(office: BackOffice, out: _Out, holder: str, amount: int | None,
               at: datetime | None) -> None:
    """[!] Top up from the bank now (never above the cap)."""
    made = _centre(office).topup(holder, amount=amount, at=_now(at))
    out.emit(made.as_dict(), lambda: [_topup_line(made.as_dict())])


@topup_group.command("list")
@click.argument("holder")
@_command_options
def topup_list(office: BackOffice, out: _Out, holder: str) -> None:
    """Every top-up asked for a holder, with its state."""
    made = [t.as_dict() for t in _centre(office).topups(holder)]
    out.emit(made, lambda: [_topup_line(t) for t in made] or [f"no top-ups for {holder}"])


@topup_group.command("retry")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def topup_retry(office: BackOffice, out: _Out, at: datetime | None) -> None:
    """[!] Ask the bank again for every top-up still waiting for its answer."""
    made = [t.as_dict() for t in _centre(office).retry_topups(at=_now(at))]
    out.emit(made, lambda: [_topup_line(t) for t in made] or ["no top-up waiting"])


def _topup_line(t: dict[str, Any]) -> str:
    tail = f" ({t['failure']})" if t["failure"] else ""
    return f"{t['id']:<16} {t['origin']:<6} {_fen(t['amount']):>12} CNY  {t['state']}{tail}"


# -- orders ----------------------------------------------------------------------------------


@settle.group("order")
def order_group() -> None:
    """Orders held on the virtual account until the holder's condition is met."""


@order_group.command("place")
@click.argument("order_id")
@click.option("--holder", required=True)
@click.option("--merchant", required=True)
@click.option("--amount", type=int, required=True, help="Fen.")
@click.option("--address", required=True, help="Delivery address (must be on file).")
@click.option("--condition", type=click.Choice([c.value for c in Condition]), required=True)
@click.option("--release-at", type=ISO_TIME, default=None, help="The date (date condition).")
@click.option("--expires-at", type=ISO_TIME, default=None, help="Default: 30 days on.")
@click.option("--mcc", type=int, default=5999, show_default=True,
              help="The merchant's category code (spending analysis).")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def order_place(office: BackOffice, out: _Out, order_id: str, holder: str, merchant: str,
                amount: int, address: str, condition: str, release_at: datetime | None,
                expires_at: datetime | None, mcc: int, at: datetime | None) -> None:
    """[!] Hold an order's amount; a code order prints its release code, once."""
    when = _now(at)
    req = OrderRequest(order_id, holder, merchant, amount, Condition(condition), address,
                       expires_at or when + timedelta(days=30), release_at, mcc)
    order, code, status = _centre(office).place_order(req, at=when)
    lines = [f"order {order_id} {status}: {_fen(amount)} CNY held for {merchant}, "
             f"released on {condition}"]
    if code is not None:
        lines.append(f"release code for the holder: {code}")
    out.emit({"status": status, **order.as_dict(), "code": code}, lambda: lines)


@order_group.command("show")
@click.argument("order_id")
@_command_options
def order_show(office: BackOffice, out: _Out, order_id: str) -> None:
    """An order's state."""
    order = _centre(office).order(order_id).as_dict()
    out.emit(order, lambda: [_order_line(order)])


@order_group.command("void")
@click.argument("order_id")
@click.option("--id", "request_id", required=True, help="Client id (retry-safe).")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def order_void(office: BackOffice, out: _Out, order_id: str, request_id: str,
               at: datetime | None) -> None:
    """[!] Cancel an order: what is still held returns to the holder."""
    outcome = _centre(office).void(order_id, request_id, at=_now(at))
    _emit_outcome(out, outcome, "returned")


@settle.command("release")
@click.argument("order_id", required=False)
@click.option("--id", "request_id", default=None, help="Client id (retry-safe).")
@click.option("--code", default=None, help="The release code (the merchant, on delivery).")
@click.option("--accept", is_flag=True, help="The holder accepts the goods.")
@click.option("--amount", type=int, default=None, help="Release only this much (fen).")
@click.option("--due", is_flag=True, help="Release every date order due; expire the rest.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def release_cmd(office: BackOffice, out: _Out, order_id: str | None, request_id: str | None,
                code: str | None, accept: bool, amount: int | None, due: bool,
                at: datetime | None) -> None:
    """[!] Release an order to its merchant (by --code or --accept), or run --due."""
    centre = _centre(office)
    if due:
        done = centre.run_due(at=_now(at))
        out.emit(done, lambda: [f"released: {', '.join(done['released']) or 'none'}; "
                                f"expired: {', '.join(done['expired']) or 'none'}"])
        return
    if order_id is None or request_id is None or (code is None) == (not accept):
        raise click.UsageError("give ORDER_ID, --id and one of --code or --accept (or --due)")
    by = ReleaseBy.HOLDER if accept else ReleaseBy.CODE
    outcome = centre.release(order_id, request_id, by=by, amount=amount, code=code,
                             at=_now(at))
    _emit_outcome(out, outcome, "released")


def _emit_outcome(out: _Out, outcome: Outcome, verb: str) -> None:
    order = outcome.order.as_dict()
    line = f"{verb} {_fen(outcome.moved)} CNY; {_order_line(order)}"
    extra = [f"  the settlement account repaid {_fen(outcome.repaid)} CNY"] if outcome.repaid \
        else []
    out.emit({**order, "moved": outcome.moved, "repaid": outcome.repaid},
             lambda: [line, *extra])


def _order_line(o: dict[str, Any]) -> str:
    return (f"order {o['order']} {o['state']}: {_fen(o['released'])} of {_fen(o['amount'])} CNY "
            f"released to {o['merchant']}, {_fen(o['held'])} held")
