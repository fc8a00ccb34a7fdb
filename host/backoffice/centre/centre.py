"""One object for the settlement centre over one back-office database: what the command line
and a host application call. Each method opens one write transaction, delegates to the module
that owns the concept, and lets the top-ups the transaction asked for reach the bank after
it committed (:mod:`.topups`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection

from host.backoffice.assets import Asset, check_amount
from host.backoffice.centre import analysis, bills, credit_line, escrow, payroll, vouchers
from host.backoffice.centre.bank import BankGateway, SimulatedBank
from host.backoffice.centre.errors import CentreRefusedError, ReleaseRefusedError
from host.backoffice.centre.holders import Holder, find_holder, lock_tiers, open_holder
from host.backoffice.centre.order_rules import Order, ReleaseBy
from host.backoffice.centre.repayment import repay
from host.backoffice.centre.tiers import Tier, TierSettings, centre_accounts, tier_account, yuan
from host.backoffice.centre.topups import (
    TopUp,
    pending_topups,
    request_topup,
    request_topups,
    resolve_topup,
    topups_of,
)
from host.backoffice.database import Database
from host.backoffice.errors import TransferRejectedError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.transfers import Balance, Reason, Source, SourceKind, Transfer

__all__ = ["SettlementCentre"]

R = TypeVar("R")


class SettlementCentre:
    """The settlement centre (F22–F25) on one database and one bank gateway."""

    def __init__(self, db: Database | str, bank: BankGateway | None = None) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        self.ledger = Ledger(self.db)
        self.bank: BankGateway = bank if bank is not None else SimulatedBank(self.ledger)

    def close(self) -> None:
        self.db.dispose()

    # -- accounts ----------------------------------------------------------------------------

    def open_account(self, holder_id: str, settings: TierSettings, *, bank_account: str,
                     addresses: Sequence[str], at: datetime) -> str:
        """Open a consumer's tiers; then fill its settlement account from the bank."""
        return self._write(lambda conn: (
            open_holder(conn, self.ledger, holder_id, settings, bank_account=bank_account,
                        addresses=tuple(addresses), at=at),
            request_topups(conn, self.ledger, [holder_id], at=at)), at)

    def holder(self, holder_id: str) -> Holder:
        with self.db.read() as conn:
            return find_holder(conn, holder_id)

    def balances(self, holder_id: str) -> dict[str, Any]:
        """The three tiers: ledger balances of the first two, the bank's word on the third."""
        holder = self.holder(holder_id)
        accounts = {a.id: a for a in self.ledger.accounts([holder.virtual, holder.settlement])}
        virtual, settlement = accounts[holder.virtual], accounts[holder.settlement]
        answer: dict[str, Any] = {
            "holder": holder_id,
            "virtual": _tier(virtual.balance, credit_line=virtual.credit_line),
            "settlement": _tier(settlement.balance, cap=holder.cap, threshold=holder.threshold),
        }
        if isinstance(self.bank, SimulatedBank):
            answer["bank"] = {"account": holder.bank_account,
                              "posted": self.bank.balance(holder.bank_account)}
        return answer

    def transfer(self, holder_id: str, request_id: str, source: Tier, target: Tier,
                 amount: int, *, at: datetime) -> Balance:
        """Move money between the holder's own virtual and settlement accounts."""
        check_amount(amount, what="transfer amount")
        if source is target or Tier.BANK in (source, target):
            raise ValidationError("transfers go between the virtual and settlement accounts "
                                  "(the bank tier moves by top-up)")
        move = Transfer.single(
            f"sc:own:{holder_id}:{request_id}", tier_account(holder_id, source),
            tier_account(holder_id, target), amount, Asset.CNY, Reason.OWN_TRANSFER,
            Source(SourceKind.MEMBER, holder_id))

        def work(conn: Connection) -> tuple[Balance, list[TopUp]]:
            lock_tiers(conn, self.ledger, holder_id)
            result = _posted(self.ledger.apply(conn, [move], at=at).results[0])
            return result, request_topups(conn, self.ledger, [holder_id], at=at)

        return self._write(work, at)

    # -- top-ups -----------------------------------------------------------------------------

    def topup(self, holder_id: str, *, at: datetime, amount: int | None = None) -> TopUp:
        """Top up from the bank now: ``amount`` or, by default, up to the cap."""
        def work(conn: Connection) -> tuple[TopUp, list[TopUp]]:
            holder = lock_tiers(conn, self.ledger, holder_id)
            want = amount
            if want is None:
                balance = self.ledger.account(holder.settlement, conn=conn).balance
                want = holder.cap - balance.posted - balance.credits_pending
                if want <= 0:
                    raise CentreRefusedError("at_cap", f"{holder_id}'s settlement account is "
                                             "at its cap (top-ups pending counted)")
            check_amount(want, what="top-up amount")
            try:
                made = request_topup(conn, self.ledger, holder, want, origin="manual", at=at)
            except TransferRejectedError:
                raise CentreRefusedError("over_cap", f"a top-up of {yuan(want)} CNY would take "
                                         f"{holder_id} over its cap of {yuan(holder.cap)} CNY"
                                         ) from None
            return made, [made]

        made = self._write(work, at)
        return next(t for t in topups_of(self.db, holder_id) if t.id == made.id)

    def retry_topups(self, *, at: datetime) -> list[TopUp]:
        """Ask the bank again for every top-up still waiting (after a crash or an outage)."""
        return [resolve_topup(self.db, self.ledger, self.bank, t, at=at)
                for t in pending_topups(self.db)]

    def topups(self, holder_id: str) -> list[TopUp]:
        return topups_of(self.db, holder_id)

    # -- orders ------------------------------------------------------------------------------

    def place_order(self, req: escrow.OrderRequest, *,
                    at: datetime) -> tuple[Order, str | None, str]:
        return self.place_orders([req], at=at)[0]

    def place_orders(self, reqs: Sequence[escrow.OrderRequest], *,
                     at: datetime) -> list[tuple[Order, str | None, str]]:
        """Hold many orders in one transaction, all or none."""
        return self._write(lambda conn: (escrow.place_orders(conn, self.ledger, reqs, at=at),
                                         []), at)

    def release(self, order_id: str, request_id: str, *, by: ReleaseBy, at: datetime,
                amount: int | None = None, code: str | None = None) -> escrow.Outcome:
        """Release (part of) an order; the settlement account repays what it can and the bank
        tops it up. A wrong code raises after its try was counted."""
        item = escrow.ReleaseItem(order_id, request_id, amount, code)
        [outcome] = self.release_orders([item], by=by, at=at)
        if outcome.refusal is not None:
            raise ReleaseRefusedError(outcome.refusal, outcome.message)
        return outcome

    def release_orders(self, items: Sequence[escrow.ReleaseItem], *, by: ReleaseBy,
                       at: datetime) -> list[escrow.Outcome]:
        """Release many orders in one transaction; then each holder's settlement account
        repays and is topped up once for the batch. Wrong codes come back as refusals."""
        def work(conn: Connection) -> tuple[list[escrow.Outcome], list[TopUp]]:
            outcomes = escrow.release_orders(conn, self.ledger, items, by=by, at=at)
            return self._settle_releases(conn, outcomes, at)

        return self._write(work, at)

    def _settle_releases(self, conn: Connection, outcomes: list[escrow.Outcome],
                         at: datetime) -> tuple[list[escrow.Outcome], list[TopUp]]:
        """Repayment, budgets and top-ups per holder whose money moved, keyed by the
        holder's first release of the batch (a repeated batch moves nothing again)."""
        first: dict[str, str] = {}
        for item in outcomes:
            if item.refusal is None and not item.repeated:
                first.setdefault(item.order.holder_id, item.key)
        repaid, asked = {}, []
        for holder_id, key in sorted(first.items()):
            holder = find_holder(conn, holder_id)
            repaid[holder_id], topups = self._after_spending(conn, holder, key, at)
            asked.extend(topups)
        return [replace(o, repaid=repaid.pop(o.order.holder_id, 0))
                if o.refusal is None and not o.repeated else o for o in outcomes], asked

    def void(self, order_id: str, request_id: str, *, at: datetime) -> escrow.Outcome:
        return self._write(lambda conn: (
            escrow.void_order(conn, self.ledger, order_id, request_id, at=at), []), at)

    def order(self, order_id: str) -> Order:
        with self.db.read() as conn:
            return escrow.load_order(conn, order_id)

    def run_due(self, *, at: datetime) -> dict[str, list[str]]:
        """The scheduler's pass, in one transaction: expire what is past its expiry, release
        every date order due."""
        def work(conn: Connection) -> tuple[dict[str, list[str]], list[TopUp]]:
            expired = escrow.expire_orders(conn, self.ledger, at)
            due = [escrow.ReleaseItem(o, "due") for o in escrow.orders_due(conn, at)]
            outcomes = escrow.release_orders(conn, self.ledger, due, by=ReleaseBy.DATE, at=at)
            settled, asked = self._settle_releases(conn, outcomes, at)
            return {"released": [o.order.id for o in settled], "expired": expired}, asked

        return self._write(work, at)

    # -- bills, vouchers, payroll -----------------------------------------------------------

    def register_biller(self, biller_id: str, category: str, *, at: datetime) -> str:
        with self.db.write() as conn:
            return bills.register_biller(conn, biller_id, category, at=at)

    def issue_bill(self, biller_id: str, number: str, period: str, amount: int, *,
                   at: datetime) -> bills.Bill:
        with self.db.write() as conn:
            return bills.issue_bill(conn, biller_id, number, period, amount, at=at)

    def lookup_bills(self, biller_id: str, number: str) -> list[bills.Bill]:
        with self.db.read() as conn:
            return bills.lookup_bills(conn, biller_id, number)

    def pay_bill(self, holder_id: str, biller_id: str, number: str, *, at: datetime,
                 period: str | None = None) -> tuple[bills.Bill, str]:
        """Pay a bill from the virtual account; the receipt and ``created``/``exists``."""
        def work(conn: Connection) -> tuple[tuple[bills.Bill, str], list[TopUp]]:
            holder = lock_tiers(conn, self.ledger, holder_id)
            paid = bills.pay_bill(conn, self.ledger, holder, biller_id, number, period, at=at)
            if paid[1] == "exists":
                return paid, []
            return paid, self._after_spending(conn, holder, f"bill:{paid[0].id}", at)[1]

        return self._write(work, at)

    def issue_vouchers(self, amount: int, count: int, *, at: datetime) -> list[str]:
        with self.db.write() as conn:
            self.ledger.create_accounts_in(conn, centre_accounts(), at=at)
            return vouchers.issue_vouchers(conn, amount, count, at=at)

    def redeem_voucher(self, holder_id: str, code: str, *, at: datetime) -> int:
        with self.db.write() as conn:
            holder = lock_tiers(conn, self.ledger, holder_id)
            return vouchers.redeem_voucher(conn, self.ledger, holder, code, at=at)

    def register_employee(self, employer_id: str, employee_no: str, holder_id: str) -> str:
        with self.db.write() as conn:
            return payroll.register_employee(conn, employer_id, employee_no, holder_id)

    def run_payroll(self, batch_id: str, employer_id: str,
                    lines: Sequence[payroll.PayrollLine], *,
                    at: datetime) -> payroll.PayrollResult:
        with self.db.write() as conn:
            return payroll.run_payroll(conn, self.ledger, batch_id, employer_id, lines, at=at)

    # -- analysis and credit ---------------------------------------------------------------

    def set_budget(self, holder_id: str, category: str, monthly: int) -> None:
        with self.db.write() as conn:
            analysis.set_budget(conn, find_holder(conn, holder_id), category, monthly)

    def spending(self, holder_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            holder = find_holder(conn, holder_id)
            return {"holder": holder_id, "months": analysis.spending(conn, holder),
                    "budgets": analysis.budgets(conn, holder)}

    def review_credit(self, holder_id: str, *, at: datetime) -> credit_line.LineChange:
        with self.db.write() as conn:
            holder = lock_tiers(conn, self.ledger, holder_id)
            return credit_line.review_line(conn, self.ledger, holder, at=at)

    # -- internals ---------------------------------------------------------------------------

    def _after_spending(self, conn: Connection, holder: Holder, key: str,
                        at: datetime) -> tuple[int, list[TopUp]]:
        """After money left the virtual account: the settlement account repays, budgets are
        checked, and the top-up now due is asked for (all in the same transaction)."""
        repaid = repay(conn, self.ledger, holder, key, at=at)
        analysis.check_budgets(conn, holder, at=at)
        return repaid, request_topups(conn, self.ledger, [holder.holder_id], at=at)

    def _write(self, work: Callable[[Connection], tuple[R, list[TopUp]]], at: datetime) -> R:
        """Run ``work`` in one write transaction, then take its top-ups to the bank."""
        with self.db.write() as conn:
            result, asked = work(conn)
        for topup in asked:
            resolve_topup(self.db, self.ledger, self.bank, topup.id, at=at)
        return result


def _posted(result: Any) -> Balance:
    if not result.ok:
        raise CentreRefusedError(result.code.value, f"transfer refused: {result.code.value}")
    return result.credit_balance


def _tier(balance: Balance, **extra: int | None) -> dict[str, Any]:
    return {"posted": balance.posted, "available": balance.available,
            "pending_in": balance.credits_pending, "pending_out": balance.debits_pending,
            **extra}
