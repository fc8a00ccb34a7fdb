"""Sales: identity confirmation, debit and credit, points earned, declines, referrals, the
issuer's answer checked by the card, scripts from the back office reaching chip 1."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from apdu_specs.commands.purse_data import Purse
from apdu_specs.payment.aids import CREDIT_AID
from host.payment.client import PaymentClient
from host.payment.errors import ARQCError
from host.payment.issuer import AuthorisationPolicy
from host.pos import (
    ARPCRejectedError,
    OnlineAnswer,
    PaymentMethod,
    POSError,
    Terminal,
    TxnStatus,
)
from host.pos.journal import Journal
from host.testing.personalise import SAMPLE

from .conftest import MERCHANT, PIN, Rig, make_link, make_terminal


def test_identity_confirmation_shows_the_masked_holder_and_verifies_the_pin(rig: Rig) -> None:
    check = rig.terminal.confirm_identity(PIN)
    assert check.confirmed and check.pin.status == "verified"
    assert check.holder.masked_pan == "620000******0005"
    assert check.holder.name == "ZHANG/SAN" and check.holder.method is PaymentMethod.DEBIT
    assert SAMPLE.debit.pan not in repr(check)


def test_a_wrong_then_blocked_pin_is_an_outcome_with_the_tries_left(rig: Rig) -> None:
    first = rig.terminal.confirm_identity("0000")
    assert not first.confirmed and first.pin.tries_left == 2
    assert first.pin.describe() == "wrong PIN, 2 tries left"
    rig.terminal.confirm_identity("0000")
    third = rig.terminal.confirm_identity("0000")
    assert third.pin.blocked and third.pin.status == "blocked"
    sale = rig.terminal.purchase(10_00, pin=PIN)
    assert sale.status is TxnStatus.DECLINED and sale.message == "PIN blocked"
    assert sale.points == [] and rig.terminal.journal.unbatched_records() == 0


def test_debit_sale_earns_consumption_and_bank_points(rig: Rig) -> None:
    sale = rig.terminal.purchase(123_45, pin=PIN, method=PaymentMethod.DEBIT)
    assert sale.approved and sale.arc == b"00" and sale.message == "approved online"
    assert sale.holder is not None and sale.holder.card_id == SAMPLE.identity
    assert [(m.purse, m.points, m.issuer_id) for m in sale.points] == [
        (Purse.CONSUMPTION, 123, "shop-a"), (Purse.BANK, 61, "bank")]
    assert rig.terminal.card.points.balances() == {Purse.CONSUMPTION: 123, Purse.BANK: 61,
                                                   Purse.CREDIT: 0}
    entry = rig.terminal.journal.entry(sale.txn_id)
    assert entry.status is TxnStatus.APPROVED and entry.stage == "done"
    assert rig.terminal.journal.unbatched_records() == 3  # payment + two loads


def test_credit_sale_earns_credit_points_and_the_holder_may_choose(rig: Rig) -> None:
    offered: list[str] = []

    def choose(apps):  # the settlement screen: the holder picks the last one offered
        offered.extend(app.label for app in apps)
        return apps[-1]

    sale = rig.terminal.purchase(50_00, pin=PIN, choose=choose)
    assert offered == ["DUALCARD DEBIT", "DUALCARD CREDIT"]
    assert sale.approved and sale.holder is not None
    assert sale.holder.method is PaymentMethod.CREDIT
    assert {m.purse: m.points for m in sale.points} == {Purse.CONSUMPTION: 50, Purse.CREDIT: 50}


def test_issuer_decline_and_referral_are_recorded_without_points(rig: Rig) -> None:
    referred = rig.terminal.purchase(15_000_00, pin=PIN, method=PaymentMethod.CREDIT)
    declined = rig.terminal.purchase(25_000_00, pin=PIN, method=PaymentMethod.CREDIT)
    assert referred.status is TxnStatus.REFERRAL and referred.arc == b"01"
    assert declined.status is TxnStatus.DECLINED and declined.arc == b"05"
    for sale in (referred, declined):
        assert sale.points == []
        assert rig.terminal.journal.entry(sale.txn_id).status is sale.status
    assert rig.terminal.journal.unbatched_records() == 0


def test_a_card_without_the_asked_application_is_refused(rig: Rig) -> None:
    with pytest.raises(POSError, match="chip failed"):
        rig.terminal.purchase(1_00, pin=PIN, choose=lambda apps: dataclasses.replace(
            apps[0], aid=bytes(7)))


class _ForgedARPC:
    """A link whose issuer answers with altered authentication data."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def authorise(self, request, *, card_id, method):
        answer = self._inner.authorise(request, card_id=card_id, method=method)
        data = bytearray(answer.response.issuer_authentication_data)
        data[0] ^= 0xFF
        return OnlineAnswer(dataclasses.replace(answer.response,
                                                issuer_authentication_data=bytes(data)))


def test_an_arpc_the_card_rejects_raises_and_is_journaled_declined(rig: Rig, tmp_path) -> None:
    terminal = make_terminal(rig.card, _ForgedARPC(rig.link),
                             Journal(tmp_path / "forged.sqlite3",
                                     terminal_id=MERCHANT.terminal_hex), rig.clock)
    with pytest.raises(ARPCRejectedError) as raised:
        terminal.purchase(20_00, pin=PIN)
    entry = terminal.journal.entry(raised.value.txn_id)
    assert entry.status is TxnStatus.DECLINED and entry.error == "ARPC rejected"
    assert terminal.journal.unbatched_records() == 0


def test_a_cryptogram_the_issuer_cannot_verify_is_declined_and_raised(rig: Rig, tmp_path) -> None:
    class Refusing:
        def __getattr__(self, name):
            return getattr(rig.link, name)

        def authorise(self, request, *, card_id, method):
            raise ARQCError("does not verify")

    terminal = make_terminal(rig.card, Refusing(), Journal(
        tmp_path / "refused.sqlite3", terminal_id=MERCHANT.terminal_hex), rig.clock)
    with pytest.raises(ARQCError):
        terminal.purchase(20_00, pin=PIN)
    (entry,) = terminal.journal.entries()
    assert entry.status is TxnStatus.DECLINED


def test_unreachable_issuer_lets_the_card_decide_offline(rig: Rig, tmp_path) -> None:
    class Offline:
        def __getattr__(self, name):
            return getattr(rig.link, name)

        def authorise(self, request, *, card_id, method):
            raise ConnectionError("host down")

    terminal = make_terminal(rig.card, Offline(), Journal(
        tmp_path / "offline.sqlite3", terminal_id=MERCHANT.terminal_hex), rig.clock)
    small = terminal.purchase(20_00, pin=PIN, earn=False)  # within the offline limit
    large = terminal.purchase(500_00, pin=PIN, earn=False)  # above it
    assert small.status is TxnStatus.APPROVED and small.arc == b"Y3"
    assert large.status is TxnStatus.DECLINED and "issuer unreachable" in large.message
    assert terminal.journal.unbatched_records() == 1  # the offline approval's payment


def test_a_raised_credit_limit_reaches_chip_1_at_the_next_credit_sale(rig: Rig) -> None:
    rig.office.review_credit(at=rig.clock.now)  # nothing earned yet: nothing to raise
    assert rig.office.pending_limit_updates(SAMPLE.identity) == []
    rig.link.office = _WithPendingLimit(rig.office, 15_000_00)
    client = PaymentClient(rig.terminal.card.chip1)
    client.select_application(CREDIT_AID)
    before = client.read_counters().credit_limit
    debit = rig.terminal.purchase(10_00, pin=PIN, method=PaymentMethod.DEBIT)
    assert debit.credit_limit is None  # a debit sale does not carry the credit script
    sale = rig.terminal.purchase(10_00, pin=PIN, method=PaymentMethod.CREDIT)
    client.select_application(CREDIT_AID)
    after = client.read_counters().credit_limit
    assert (before, after, sale.credit_limit) == (SAMPLE.credit.credit_limit, 15_000_00,
                                                  15_000_00)
    assert rig.link.office.delivered == ["limit/test/1"]


class _WithPendingLimit:
    """The back office with one limit update waiting for the sample card."""

    def __init__(self, office, limit: int) -> None:
        from host.backoffice.credit import LimitUpdate

        self._office = office
        self._update = LimitUpdate("limit/test/1", SAMPLE.identity, limit,
                                   dt.datetime(2025, 6, 18, tzinfo=dt.UTC))
        self.delivered: list[str] = []

    def __getattr__(self, name):
        return getattr(self._office, name)

    def pending_limit_updates(self, card_id):
        return [] if self.delivered or card_id != SAMPLE.identity else [self._update]

    def mark_delivered(self, script_id, *, at):
        self.delivered.append(script_id)
        return True


def test_the_terminal_and_its_journal_must_belong_together(rig: Rig, tmp_path) -> None:
    other = Journal(tmp_path / "other.sqlite3", terminal_id="0000000B0001")
    with pytest.raises(POSError, match="not this terminal's journal"):
        make_terminal(rig.card, rig.link, other, rig.clock)
    assert isinstance(Terminal.over(_link_of(rig), merchant=MERCHANT, backoffice=rig.link,
                                    sam=rig.terminal.ctx.sam), Terminal)


def _link_of(rig: Rig):
    from host.testing.fixtures import simulated_link

    return simulated_link(rig.card)


def test_policy_defaults_approve_everything(rig: Rig) -> None:
    link = make_link(rig.office, AuthorisationPolicy())
    assert link.issuer.policy.approve_up_to is None


def test_a_load_whose_tac_does_not_verify_raises(rig: Rig, tmp_path) -> None:
    from host.backoffice.inprocess_link import InProcessBackOffice
    from host.points import PurseIssuerKeys
    from host.pos import PointsProofError

    keys = SAMPLE.purse_keys
    wrong_tac = PurseIssuerKeys(keys.algorithm, keys.load_master, keys.purchase_master,
                                bytes(16))
    link = InProcessBackOffice(rig.office, payment_keys=SAMPLE.payment_keys,
                               points_keys=wrong_tac, bank_id="bank")
    terminal = make_terminal(rig.card, link, Journal(
        tmp_path / "tac.sqlite3", terminal_id=MERCHANT.terminal_hex), rig.clock)
    with pytest.raises(PointsProofError) as raised:
        terminal.purchase(20_00, pin=PIN)
    entry = terminal.journal.entry(raised.value.txn_id)
    assert entry.stage == "earn refused" and "TAC" in (entry.error or "")
    assert terminal.journal.unbatched_records() == 1  # the payment; no unproven load


def test_identity_names_the_card_the_alliance_knows(rig: Rig) -> None:
    assert rig.terminal.confirm_identity(PIN).holder.card_id == SAMPLE.identity
