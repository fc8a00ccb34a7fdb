"""``dualcard settle …``: the settlement centre (F22–F25) from the command line.

Like ``dualcard ledger`` every command takes ``--db URL`` and ``--json``; amounts are integers
in fen; times are ISO 8601 with a UTC offset (``--at`` defaults to now). The bank is the
simulated bank kept in the same database (``dualcard settle bank deposit``).

Exit codes: 0 ok · 1 refused by the centre, the ledger or the database · 2 bad arguments.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
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
from host.backoffice.centre.categories import BILL_CATEGORIES
from host.backoffice.centre.escrow import Outcome
from host.backoffice.centre.payroll import PayrollLine
from host.cli.ledger_cmds import ISO_TIME, _command_options, _fen, _now, _Out
from host.files import DocumentError, read_csv

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


# -- bills and vouchers -----------------------------------------------------------------------


@settle.group("bill")
def bill_group() -> None:
    """Bills of registered billers (water, power, gas, phone), looked up and paid."""


@bill_group.command("biller")
@click.argument("biller_id")
@click.option("--category", type=click.Choice(list(BILL_CATEGORIES)), required=True)
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def bill_biller(office: BackOffice, out: _Out, biller_id: str, category: str,
                at: datetime | None) -> None:
    """[!] Register a merchant as a biller."""
    status = _centre(office).register_biller(biller_id, category, at=_now(at))
    out.emit({"biller": biller_id, "category": category, "status": status},
             lambda: [f"biller {biller_id} ({category}) {status}"])


@bill_group.command("issue")
@click.argument("biller_id")
@click.option("--number", required=True, help="The customer's number at the biller.")
@click.option("--period", required=True, help="e.g. 2030-03.")
@click.option("--amount", type=int, required=True, help="Fen.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def bill_issue(office: BackOffice, out: _Out, biller_id: str, number: str, period: str,
               amount: int, at: datetime | None) -> None:
    """[!] The biller issues a bill."""
    bill = _centre(office).issue_bill(biller_id, number, period, amount, at=_now(at))
    out.emit(bill.as_dict(), lambda: [_bill_line(bill.as_dict())])


@bill_group.command("lookup")
@click.argument("biller_id")
@click.option("--number", required=True)
@_command_options
def bill_lookup(office: BackOffice, out: _Out, biller_id: str, number: str) -> None:
    """Bills of a customer number."""
    found = [b.as_dict() for b in _centre(office).lookup_bills(biller_id, number)]
    out.emit(found, lambda: [_bill_line(b) for b in found] or ["no bills"])


@bill_group.command("pay")
@click.argument("holder")
@click.option("--biller", required=True)
@click.option("--number", required=True)
@click.option("--period", default=None, help="Default: the oldest unpaid bill.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def bill_pay(office: BackOffice, out: _Out, holder: str, biller: str, number: str,
             period: str | None, at: datetime | None) -> None:
    """[!] Pay a bill from the holder's virtual account; prints the receipt."""
    bill, status = _centre(office).pay_bill(holder, biller, number, period=period, at=_now(at))
    out.emit({"status": status, **bill.as_dict()},
             lambda: [f"{_bill_line(bill.as_dict())} (receipt {bill.transfer_id})"])


def _bill_line(b: dict[str, Any]) -> str:
    state = f"paid by {b['paid_by']}" if b["paid_by"] else "unpaid"
    return f"bill {b['bill']}: {_fen(b['amount'])} CNY, {state}"


@settle.group("voucher")
def voucher_group() -> None:
    """Single-use top-up vouchers."""


@voucher_group.command("issue")
@click.option("--amount", type=int, required=True, help="Face value, fen.")
@click.option("--count", type=int, default=1, show_default=True)
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def voucher_issue(office: BackOffice, out: _Out, amount: int, count: int,
                  at: datetime | None) -> None:
    """[!] Issue vouchers; their codes are shown this once."""
    codes = _centre(office).issue_vouchers(amount, count, at=_now(at))
    out.emit({"amount": amount, "codes": codes}, lambda: codes)


@topup_group.command("voucher")
@click.argument("holder")
@click.option("--code", required=True)
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def topup_voucher(office: BackOffice, out: _Out, holder: str, code: str,
                  at: datetime | None) -> None:
    """[!] Redeem a voucher onto the holder's virtual account."""
    value = _centre(office).redeem_voucher(holder, code, at=_now(at))
    out.emit({"holder": holder, "amount": value},
             lambda: [f"voucher of {_fen(value)} CNY credited to {holder}'s virtual account"])


# -- payroll -----------------------------------------------------------------------------------


@settle.group("payroll")
def payroll_group() -> None:
    """Salaries credited by employers' batches."""


@payroll_group.command("employee")
@click.argument("employer_id")
@click.argument("employee_no")
@click.option("--holder", required=True)
@_command_options
def payroll_employee(office: BackOffice, out: _Out, employer_id: str, employee_no: str,
                     holder: str) -> None:
    """[!] Register a holder as an employer's employee."""
    status = _centre(office).register_employee(employer_id, employee_no, holder)
    out.emit({"status": status}, lambda: [f"employee {employer_id}/{employee_no} {status}"])


@payroll_group.command("run")
@click.argument("batch_id")
@click.argument("lines_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--employer", required=True)
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def payroll_run(office: BackOffice, out: _Out, batch_id: str, lines_file: Path, employer: str,
                at: datetime | None) -> None:
    """[!] Credit a batch (CSV: employee,amount): every line or none."""
    lines = _payroll_lines(lines_file)
    result = _centre(office).run_payroll(batch_id, employer, lines, at=_now(at))
    out.emit(result.as_dict(), lambda: [
        f"payroll {batch_id} {result.status}: {result.lines} lines, {_fen(result.total)} CNY"])


def _payroll_lines(path: Path) -> list[PayrollLine]:
    table = read_csv(path)
    if table.header[:2] != ["employee", "amount"]:
        raise DocumentError(str(path), "needs the header: employee,amount")
    lines = []
    for number, row in table.rows:
        if len(row) < 2 or not row[1].strip().isdigit():
            raise DocumentError(str(path), "amount must be a positive integer in fen",
                                line=number)
        lines.append(PayrollLine(number, row[0].strip(), int(row[1])))
    return lines


# -- analysis and credit -----------------------------------------------------------------------


@settle.command("analysis")
@click.argument("holder")
@click.option("--budget", "budget", nargs=2, default=None, metavar="CATEGORY FEN",
              help="Set a monthly budget for a category first.")
@_command_options
def analysis_cmd(office: BackOffice, out: _Out, holder: str,
                 budget: tuple[str, int] | None) -> None:
    """Spending by month and category, with the budgets set (reminders go to the outbox)."""
    centre = _centre(office)
    if budget:
        category, amount = budget[0], int(budget[1])
        centre.set_budget(holder, category, amount)
    shown = centre.spending(holder)

    def lines() -> list[str]:
        rows = [f"{holder}: budgets " + (", ".join(
            f"{c} {_fen(v)}" for c, v in shown["budgets"].items()) or "none")]
        for month, spent in shown["months"].items():
            rows.append(f"  {month}  " + ", ".join(f"{c} {_fen(v)}" for c, v in spent.items()))
        return rows

    out.emit(shown, lines)


@settle.command("credit")
@click.argument("holder")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def credit_cmd(office: BackOffice, out: _Out, holder: str, at: datetime | None) -> None:
    """[!] Recompute the holder's credit line from points, spending and repayments."""
    change = _centre(office).review_credit(holder, at=_now(at))
    verb = "moved" if change.old != change.new else "kept"
    out.emit(change.as_dict(), lambda: [
        f"{holder} credit line {verb}: {_fen(change.old)} -> {_fen(change.new)} CNY",
        f"  {change.explanation}"])
