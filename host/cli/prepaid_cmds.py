"""``dualcard prepaid …``: prepaid value split into insured sub-cards (F13–F16).

The same ``--db`` and ``--json`` as ``dualcard ledger`` (whose ledger must exist: ``dualcard
ledger init``); amounts in yuan with up to two decimals (``12,345.67``), stored in fen.
Exit codes: 0 ok · 1 refused (not enough value, frozen cards, a reconciliation difference)
· 2 bad arguments.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Any

import click

from host.backoffice import BackOffice
from host.backoffice.prepaid import (
    HolderKind,
    PrepaidOffice,
    Program,
    ProgramKind,
    RateRow,
    Trigger,
)
from host.backoffice.prepaid.programs import REGISTERED_CAP
from host.cli.exit_codes import ExitCode
from host.cli.ledger_cmds import ISO_TIME, _command_options, _fen, _now, _Out

__all__ = ["prepaid"]


class _Yuan(click.ParamType):
    """An amount in yuan (``12345.67``, ``12,345.67``) as integer fen."""

    name = "YUAN"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        text = str(value).replace(",", "").strip()
        whole, _, cents = text.partition(".")
        if not whole.isdigit() or len(cents) > 2 or (cents and not cents.isdigit()):
            self.fail(f"{value!r} is not an amount in yuan (e.g. 12345.67)", param, ctx)
        return int(whole) * 100 + int(cents.ljust(2, "0") or "0")


YUAN = _Yuan()


@click.group("prepaid")
def prepaid() -> None:
    """Prepaid cards split under a per-card cap, insured card by card, claims from live
    balances."""


def _office(office: BackOffice) -> PrepaidOffice:
    return PrepaidOffice(office.db)


# -- programs ------------------------------------------------------------------------------


@prepaid.group("program")
def program_group() -> None:
    """A merchant's prepaid programs."""


@program_group.command("add")
@click.argument("program_id")
@click.option("--merchant", required=True)
@click.option("--insurer", required=True, help="The insurer of every card's policy.")
@click.option("--kind", type=click.Choice([k.value for k in ProgramKind]), default="bonus",
              show_default=True)
@click.option("--cap", type=YUAN, default=REGISTERED_CAP, show_default="5000",
              help="Per-card cap of a registered card (a named holder on file).")
@click.option("--anonymous-cap", type=YUAN, default=None,
              help="Per-card cap of an anonymous card [default: 1000, or --cap if lower].")
@click.option("--bonus-bp", type=int, default=0, help="Bonus per principal, basis points.")
@click.option("--discount-bp", type=int, default=0, help="Discount on payments, basis points.")
@click.option("--uses", type=int, default=0, help="Count card: uses in a full card.")
@click.option("--premium-bp", type=int, default=0,
              help="Yearly premium rate (bp) if the insurer has no rate table.")
@click.option("--term-days", type=int, default=365, show_default=True)
@click.option("--valid-days", type=int, default=None, help="Card validity (default: none).")
@click.option("--priority", type=int, default=0, show_default=True)
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def program_add(office: BackOffice, out: _Out, program_id: str, merchant: str, insurer: str,
                kind: str, cap: int, anonymous_cap: int | None, bonus_bp: int,
                discount_bp: int, uses: int, premium_bp: int, term_days: int,
                valid_days: int | None, priority: int, at: datetime | None) -> None:
    """[!] Add a prepaid program."""
    program = Program(program_id, merchant, ProgramKind(kind), cap, insurer, premium_bp,
                      bonus_bp, discount_bp, uses, term_days, valid_days, priority,
                      anonymous_cap)
    status = _office(office).add_program(program, at=_now(at))
    out.emit({"status": status, "program": program.as_dict()},
             lambda: [f"program {program_id} {status}: {kind} cards of {merchant} up to "
                      f"{_fen(cap)} each registered, {_fen(program.cap(HolderKind.ANONYMOUS))}"
                      f" anonymous, insured by {insurer}"])


@program_group.command("list")
@click.option("--merchant", default=None)
@_command_options
def program_list(office: BackOffice, out: _Out, merchant: str | None) -> None:
    """List programs."""
    programs = _office(office).programs(merchant)
    out.emit([p.as_dict() for p in programs], lambda: [
        f"{p.id:<12} {p.merchant_id:<10} {p.kind.value:<8} cap {_fen(p.card_cap):>10} "
        f"anonymous {_fen(p.cap(HolderKind.ANONYMOUS)):>10} insurer {p.insurer_id}"
        for p in programs])


# -- issue, pay, balances ------------------------------------------------------------------


@prepaid.command("issue")
@click.argument("request_id")
@click.option("--program", "program_id", required=True)
@click.option("--holder", required=True, help="The consumer buying the value.")
@click.option("--amount", type=YUAN, required=True)
@click.option("--holder-kind", type=click.Choice([k.value for k in HolderKind]),
              default=HolderKind.REGISTERED.value, show_default=True,
              help="Registered (named holder on file) or anonymous: which cap splits it.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def issue_cmd(office: BackOffice, out: _Out, request_id: str, program_id: str, holder: str,
              amount: int, holder_kind: str, at: datetime | None) -> None:
    """[!] Sell prepaid value: split under the holder kind's cap into insured sub-cards."""
    result = _office(office).issue(request_id, program_id, holder, amount, at=_now(at),
                                   holder_kind=HolderKind(holder_kind))

    def lines() -> list[str]:
        rows = [f"purchase {request_id} {result['status']}: {_fen(amount)} on "
                f"{len(result['cards'])} {result.get('holder_kind', 'registered')} cards "
                f"(cap {_fen(result.get('card_cap', 0))}), account {result['account']}"]
        rows += [f"  card {c['card']}  principal {_fen(c['principal']):>9}  bonus "
                 f"{_fen(c['bonus']):>8}  policy {c['policy']} premium {_fen(c['premium'])}"
                 for c in result["cards"]]
        return rows

    out.emit(result, lines)


@prepaid.command("pay")
@click.argument("request_id")
@click.option("--account", required=True, help="The holder's network account.")
@click.option("--amount", type=YUAN, default=None, help="The price.")
@click.option("--uses", type=int, default=None, help="Count card: uses taken.")
@click.option("--merchant", default=None, help="Where (must be the program's merchant).")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def pay_cmd(office: BackOffice, out: _Out, request_id: str, account: str, amount: int | None,
            uses: int | None, merchant: str | None, at: datetime | None) -> None:
    """[!] Pay from the account's cards as one card."""
    if (amount is None) == (uses is None):
        raise click.UsageError("give --amount or --uses")
    price = amount if amount is not None else uses
    assert price is not None
    result = _office(office).pay(request_id, account, price, at=_now(at), merchant_id=merchant)
    out.emit(result, lambda: [
        f"payment {request_id} {result['status']}: {_fen(result['charged'])} from "
        f"{len(result['draws'])} card(s); account balance {_fen(result['balance'])}",
        *(f"  card {d['card']}  {_fen(-d['amount']):>10}  balance {_fen(d['balance_after'])}"
          for d in result["draws"])])


@prepaid.command("refund")
@click.argument("payment_id")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def refund_cmd(office: BackOffice, out: _Out, payment_id: str, at: datetime | None) -> None:
    """[!] Give a payment back to the cards it came from."""
    result = _office(office).refund(payment_id, at=_now(at))
    out.emit(result, lambda: [f"refund of {payment_id} {result['status']}: "
                              f"{_fen(result['amount'])} back on {len(result['draws'])} card(s)"])


@prepaid.command("expire")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def expire_cmd(office: BackOffice, out: _Out, at: datetime | None) -> None:
    """[!] Expire the cards whose validity has ended."""
    result = _office(office).expire_due(at=_now(at))
    out.emit(result, lambda: [f"{len(result['expired'])} card(s) expired, "
                              f"{_fen(result['total'])} in all"])


@prepaid.command("balance")
@click.argument("account")
@click.option("--as-of", type=ISO_TIME, default=None, help="From the live records.")
@_command_options
def balance_cmd(office: BackOffice, out: _Out, account: str, as_of: datetime | None) -> None:
    """A network account's cards: principal, bonus and balance, now or as of a time."""
    result = _office(office).balance(account, as_of=as_of)
    out.emit(result, lambda: [
        f"{account}: balance {_fen(result['balance'])} (principal {_fen(result['principal'])}, "
        f"bonus {_fen(result['bonus'])})",
        *(f"  card {c['card']}  {_fen(c['balance']):>10}  principal {_fen(c['principal']):>10}"
          f"  bonus {_fen(c['bonus']):>9}  {c['status']}  {c['holder_kind']}"
          for c in result["cards"])])


@prepaid.command("history")
@click.argument("card")
@click.option("--as-of", type=ISO_TIME, default=None)
@_command_options
def history_cmd(office: BackOffice, out: _Out, card: str, as_of: datetime | None) -> None:
    """Every movement of one card with its live balance after it."""
    rows = _office(office).history(card, as_of=as_of)
    out.emit(rows, lambda: [
        f"{r['at']}  {r['kind']:<7} {r['request']:<16} {_fen(r['principal'] + r['bonus']):>10}"
        f"  balance {_fen(r['balance_after'])}" for r in rows])


@prepaid.command("policies")
@click.option("--merchant", default=None)
@click.option("--holder", default=None)
@click.option("--insurer", default=None)
@click.option("--limit", type=int, default=None)
@_command_options
def policies_cmd(office: BackOffice, out: _Out, merchant: str | None, holder: str | None,
                 insurer: str | None, limit: int | None) -> None:
    """The per-card policies, by merchant, holder or insurer."""
    rows = _office(office).policies(merchant_id=merchant, holder_id=holder, insurer_id=insurer,
                                    limit=limit)
    out.emit(rows, lambda: [
        f"{r['policy']}  {r['holder']:<8} insured {_fen(r['sum_insured']):>10}  premium "
        f"{_fen(r['premium']):>7}  {r['insurer']} rate {r['rate_bp']} bp "
        f"({r['rate_row'] or 'flat'})  until {r['ends'][:10]}" for r in rows])


# -- the insurers' rate tables -------------------------------------------------------------


@prepaid.group("rate")
def rate_group() -> None:
    """Insurers' premium rate tables: a yearly rate by term, sum insured and holder kind."""


@rate_group.command("add")
@click.argument("row_id")
@click.option("--insurer", required=True)
@click.option("--term-from", type=int, default=1, show_default=True, help="Days, included.")
@click.option("--term-to", type=int, default=36_500, show_default=True, help="Days, included.")
@click.option("--insured-from", type=YUAN, default=0, show_default=True,
              help="Sum insured (a card's principal), included.")
@click.option("--insured-to", type=YUAN, required=True, help="Sum insured, included.")
@click.option("--holder-kind", type=click.Choice(["any", *(k.value for k in HolderKind)]),
              default="any", show_default=True)
@click.option("--rate-bp", type=int, required=True, help="Yearly rate, basis points.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def rate_add(office: BackOffice, out: _Out, row_id: str, insurer: str, term_from: int,
             term_to: int, insured_from: int, insured_to: int, holder_kind: str, rate_bp: int,
             at: datetime | None) -> None:
    """[!] Define one row of an insurer's rate table (rows never overlap)."""
    kind = None if holder_kind == "any" else HolderKind(holder_kind)
    row = RateRow(insurer, row_id, term_from, term_to, insured_from, insured_to, rate_bp, kind)
    status = _office(office).add_rate(row, at=_now(at))
    out.emit({"status": status, "rate": row.as_dict()}, lambda: [
        f"rate {insurer}/{row_id} {status}: {rate_bp} bp a year"])


@rate_group.command("list")
@click.option("--insurer", default=None)
@_command_options
def rate_list(office: BackOffice, out: _Out, insurer: str | None) -> None:
    """An insurer's rate table (every insurer's without --insurer)."""
    rows = [r.as_dict() for r in _office(office).rates(insurer)]
    out.emit(rows, lambda: [
        f"{r['insurer']:<8} {r['row']:<10} term {r['term_from']:>5}-{r['term_to']:<5} days  "
        f"insured {_fen(r['insured_from']):>10}-{_fen(r['insured_to']):<10} "
        f"{r['holder_kind'] or 'any':<10} {r['rate_bp']:>5} bp" for r in rows])


@prepaid.command("reconcile")
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]))
@_command_options
def reconcile_cmd(office: BackOffice, out: _Out, day: datetime) -> None:
    """Prove, as of the end of a day, that every merchant's cards add up to its custody
    account and to the live records; exits 1 on any difference."""
    result = _office(office).reconcile(date(day.year, day.month, day.day))
    out.emit(result, lambda: [
        f"{m['merchant']:<10} cards {_fen(m['cards_in_ledger']):>12}  custody "
        f"{_fen(m['custody']):>12}  records {_fen(m['live_records']):>12}  "
        f"{'ok' if m['ok'] else 'DIFFERENCE ' + _fen(m['difference'])}"
        for m in result["merchants"]])
    if not result["ok"]:
        click.echo("Error: the reconciliation found a difference", err=True)
        sys.exit(int(ExitCode.FAILURE))


# -- claims --------------------------------------------------------------------------------


@prepaid.group("claim")
def claim_group() -> None:
    """A merchant's failure: freeze, review, pay per card from live balances."""


def _claim_lines(result: dict[str, Any]) -> list[str]:
    rows = [f"claim {result['claim']} {result['state']} ({result['status']}): "
            f"{result['merchant']} {result['trigger']}, {result['cards']} cards, live "
            f"{_fen(result['live_balance'])}, payout {_fen(result['payout'])}"]
    rows += [f"  card {line['card']}  {line['holder']:<8} pays {_fen(line['payout']):>10}  "
             f"({line['explanation']})" for line in result["lines"]]
    return rows


@claim_group.command("open")
@click.argument("claim_id")
@click.option("--merchant", required=True)
@click.option("--trigger", type=click.Choice([t.value for t in Trigger]), required=True)
@click.option("--trigger-at", type=ISO_TIME, default=None, help="Default: --at.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def claim_open(office: BackOffice, out: _Out, claim_id: str, merchant: str, trigger: str,
               trigger_at: datetime | None, at: datetime | None) -> None:
    """[!] Freeze the merchant's cards and compute every card's payout."""
    when = _now(at)
    result = _office(office).open_claim(claim_id, merchant, Trigger(trigger),
                                        trigger_at=trigger_at or when, at=when)
    out.emit(result, lambda: _claim_lines(result))


@claim_group.command("review")
@click.argument("claim_id")
@click.option("--approve/--reject", required=True)
@click.option("--note", default="", help="The insurer's words.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def claim_review(office: BackOffice, out: _Out, claim_id: str, approve: bool, note: str,
                 at: datetime | None) -> None:
    """[!] The insurer approves (or rejects: the cards are unfrozen)."""
    result = _office(office).review_claim(claim_id, approve=approve, note=note, at=_now(at))
    out.emit(result, lambda: _claim_lines(result)[:1])


@claim_group.command("pay")
@click.argument("claim_id")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def claim_pay(office: BackOffice, out: _Out, claim_id: str, at: datetime | None) -> None:
    """[!] Pay an approved claim to the holders, card by card."""
    result = _office(office).pay_claim(claim_id, at=_now(at))
    out.emit(result, lambda: _claim_lines(result))


@claim_group.command("show")
@click.argument("claim_id")
@_command_options
def claim_show(office: BackOffice, out: _Out, claim_id: str) -> None:
    """A claim and every card's line."""
    result = {**_office(office).claim(claim_id), "status": "shown"}
    out.emit(result, lambda: _claim_lines(result))


