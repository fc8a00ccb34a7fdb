"""The back office in the terminal's own process: the default :class:`host.pos.BackOfficeLink`.

It lives on the back office's side so that ``host.pos`` imports no ledger: a terminal
talking to a remote back office ships none.

It puts together what the alliance runs centrally: the chip 1 issuer
(:class:`host.payment.issuer.Issuer`), the points issuer's load host
(:class:`host.points.LoadHost`) and the ledger service
(:class:`host.backoffice.BackOffice`) with its members, agreements, credit granting,
conversions and clearing. A raised credit line waiting in the back office for a card
(:meth:`BackOffice.pending_limit_updates`) rides on the card's next online credit
transaction as PUT DATA scripts. Agreement tables are kept for a few minutes, as a
terminal keeps the parameter tables it downloads (:meth:`InProcessBackOffice.refresh`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from apdu_specs.commands.purse_data import Purse
from apdu_specs.magstripe.tracks import Track2
from host.backoffice.agreements import Agreement
from host.backoffice.authorisations import (
    CHIP,
    STRIPE,
    Authorisation,
    new_authorisation_id,
    record_authorisation,
)
from host.backoffice.card_keys import load_key_file
from host.backoffice.errors import ValidationError
from host.backoffice.load_authoriser import LoadAuthoriser
from host.backoffice.members import Member, MemberKind, merchant_of_terminal
from host.backoffice.prepaid import PrepaidOffice
from host.backoffice.rates import Ratio
from host.backoffice.redemptions import (
    RedemptionRefusedError,
    check_debit,
    debit_cleared,
    redemption_id_of,
)
from host.backoffice.service import BackOffice
from host.backoffice.verifier import SoftwareCardVerifier
from host.hsm.provider import KeyProvider
from host.payment.issuer import AuthorisationPolicy, AuthorisationRequest, Decision
from host.payment.keys import PaymentKeys
from host.payment.keys import load_issuer_keys as load_payment_keys
from host.payment.scripts import set_credit_limit
from host.points.keyfile import load_issuer_keys as load_points_keys
from host.points.keys import PurseKeySource
from host.points.load_host import LoadAuthority, LoadAuthorization, LoadHost
from host.points.messages import LoadInit
from host.points.records import PurseRecord
from host.pos.errors import POSUsageError
from host.pos.link import (
    EarnQuote,
    OnlineAnswer,
    PaymentMethod,
    PrepaidPayment,
    RedemptionReceipt,
    StripeDecision,
    UploadReceipt,
)
from host.records.assets import PURSE_ASSETS
from host.records.batch import PurseRecord as BatchPurseRecord
from host.records.batch import SaleClaim, TerminalBatch
from host.records.errors import NotFoundError

if TYPE_CHECKING:
    from host.pos.config import TerminalConfig

__all__ = ["PURSE_ASSETS", "InProcessBackOffice", "load_authority", "open_backoffice"]

#: one point buys one fen, unless the alliance says otherwise
_ONE_FEN_PER_POINT = Ratio(1, 1)
#: the currency of a swiped sale (ISO 4217 numeric: CNY)
_CNY = 156


class InProcessBackOffice:
    """Issuer, points issuer and ledger in process, for one issuing bank (``bank_id``).

    Every online answer of the issuer is recorded (:mod:`.authorisations`) with the terminal
    this link serves (``terminal_id``, its own configuration); loads are signed only through
    the :class:`~host.backoffice.load_authoriser.LoadAuthoriser`."""

    def __init__(self, office: BackOffice, *, payment_keys: PaymentKeys,
                 points_keys: PurseKeySource | KeyProvider, bank_id: str,
                 policy: AuthorisationPolicy | None = None,
                 redemption_rate: Ratio = _ONE_FEN_PER_POINT, redemption_fee_bp: int = 0,
                 agreements_max_age: dt.timedelta = dt.timedelta(minutes=5),
                 terminal_id: str | None = None) -> None:
        self.office = office
        self.issuer = payment_keys.issuer(policy=policy)
        self._payment_keys = payment_keys
        self._load_host = load_authority(points_keys)
        self._loads = LoadAuthoriser(office, self._load_host, bank_id=bank_id)
        self.bank_id = bank_id
        self.terminal_id = terminal_id
        self._own_merchant: str | None = None
        self.redemption_rate = redemption_rate
        self.redemption_fee_bp = redemption_fee_bp
        self._holders: dict[str, Member] = {}
        self.agreements_max_age = agreements_max_age
        self._agreements: dict[str, tuple[dt.datetime, list[Agreement]]] = {}

    def __repr__(self) -> str:
        return f"InProcessBackOffice(bank {self.bank_id}, {self.issuer!r})"

    # -- card holders -----------------------------------------------------------------------

    def holder(self, card_id: str) -> Member:
        """The consumer member a card belongs to (:class:`NotFoundError` if none)."""
        if card_id not in self._holders:
            for member in self.office.members(MemberKind.CONSUMER):
                if member.card_id is not None:
                    self._holders[member.card_id] = member
        try:
            return self._holders[card_id]
        except KeyError:
            raise NotFoundError(f"card {card_id} belongs to no alliance member") from None

    # -- chip 1 and the stripe --------------------------------------------------------------

    def authorise(self, request: AuthorisationRequest, *, card_id: str,
                  method: PaymentMethod) -> OnlineAnswer:
        return self.authorise_recorded(request, card_id=card_id, method=method)[0]

    def authorise_recorded(self, request: AuthorisationRequest, *, card_id: str,
                           method: PaymentMethod) -> tuple[OnlineAnswer, Authorisation]:
        """:meth:`authorise`, with the issuer's record of its answer (what the service's
        hold cites, in the same transaction: not read back)."""
        updates = self.office.pending_limit_updates(card_id) if method is PaymentMethod.CREDIT \
            else []
        orders = [partial(set_credit_limit, amount=u.new_limit) for u in updates]
        response = self.issuer.authorise(request, scripts_after=orders)
        facts = response.facts
        assert facts is not None  # Issuer.authorise always answers with the facts it used
        record = self._record(Authorisation(
            new_authorisation_id(CHIP), CHIP, request.arqc, card_id, method.value, facts.amount,
            facts.currency, response.decision.value, response.reason, self.bank_id,
            self._merchant(), self.terminal_id), at=dt.datetime.now(dt.UTC))
        return OnlineAnswer(response, tuple(u.script_id for u in updates),
                            updates[-1].new_limit if updates else None), record

    def _record(self, authorisation: Authorisation, *, at: dt.datetime) -> Authorisation:
        return record_authorisation(self.office.db, authorisation, at=at)

    def _merchant(self) -> str | None:
        """The merchant of the terminal this link serves, if it is configured with one."""
        if self.terminal_id is None:
            return None
        if self._own_merchant is None:
            with self.office.db.read() as conn:
                self._own_merchant = merchant_of_terminal(conn, self.terminal_id)
        return self._own_merchant

    def scripts_delivered(self, script_ids: Sequence[str], *, at: dt.datetime) -> None:
        for script_id in script_ids:
            self.office.mark_delivered(script_id, at=at)

    def authorise_stripe(self, track2: Track2, amount: int, *,
                         card_id: str | None = None) -> StripeDecision:
        refusal = self._payment_keys.stripe_refusal(track2.encode())
        if refusal is not None:
            return StripeDecision(Decision.DECLINE, refusal)
        decision, reason = self.issuer.policy.decide_amount(amount)
        approval = Authorisation(
            new_authorisation_id(STRIPE), STRIPE, None, card_id, STRIPE, amount, _CNY,
            decision.value, reason, self.bank_id, self._merchant(), self.terminal_id)
        self._record(approval, at=dt.datetime.now(dt.UTC))
        approved = decision is Decision.APPROVE
        return StripeDecision(decision, reason and f"issuer policy: {reason}",
                              approval.id if approved else None)

    # -- points -----------------------------------------------------------------------------

    def earn_quotes(self, *, merchant_id: str, card_id: str, method: PaymentMethod | None,
                    purchase_fen: int, at: dt.datetime) -> list[EarnQuote]:
        group = self.holder(card_id).consumer_group or ""
        wanted = [(merchant_id, Purse.CONSUMPTION)]
        if method is not None:
            wanted.append((self.bank_id, method.points_purse))
        quotes = []
        for issuer_id, purse in wanted:
            agreement = self._agreement(issuer_id, group, purse, at)
            if agreement is None:
                continue
            points = agreement.points_for(purchase_fen)
            if points > 0:
                quotes.append(EarnQuote(purse, points, issuer_id, agreement.id))
        return quotes

    def _agreement(self, issuer_id: str, group: str, purse: Purse,
                   at: dt.datetime) -> Agreement | None:
        asset = PURSE_ASSETS[purse]
        live = [a for a in self._agreement_table(issuer_id, at)
                if a.asset is asset and a.consumer_group == group
                and a.valid_from <= at and (a.valid_to is None or at < a.valid_to)]
        return max(live, key=lambda a: (a.valid_from, a.id), default=None)

    def _agreement_table(self, issuer_id: str, at: dt.datetime) -> list[Agreement]:
        """An issuer's agreements, fetched again once older than ``agreements_max_age`` —
        the way a terminal keeps its parameter tables between downloads."""
        cached = self._agreements.get(issuer_id)
        if cached is None or not cached[0] <= at < cached[0] + self.agreements_max_age:
            cached = (at, self.office.agreements(issuer_id))
            self._agreements[issuer_id] = cached
        return cached[1]

    def refresh(self) -> None:
        """Forget cached members and agreement tables (after the alliance changed them)."""
        self._holders.clear()
        self._agreements.clear()
        self._loads.refresh()

    def load_key_index(self, card_id: str, purse: Purse) -> int:
        return self._load_host.key_index(card_id, purse)

    def authorize_load(self, card_id: str, init: LoadInit, when: dt.datetime, *,
                       sale: SaleClaim) -> LoadAuthorization:
        return self._loads.authorize(card_id, init, when, sale=sale)

    def confirm_load(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord:
        return self._load_host.confirm(authorization, tac)

    def redeem(self, *, redemption_id: str, card_id: str, purse: Purse, points: int,
               at: dt.datetime, debit: BatchPurseRecord, insurer_id: str | None = None,
               policy: str | None = None) -> RedemptionReceipt:
        asset = PURSE_ASSETS[Purse(purse)]
        verifier = self.office.verifier
        if verifier is None:
            raise POSUsageError("the back office has no card verifier: it cannot check redemptions")
        reason = check_debit(debit, card_id=card_id, asset=asset, points=points,
                             terminal_id=self.terminal_id, verifier=verifier)
        if reason is None:
            with self.office.db.read() as conn:
                reason = "debit_already_cleared_at_a_merchant" if debit_cleared(conn, debit) \
                    else None
        if reason is not None:
            raise RedemptionRefusedError(f"redemption {redemption_id} refused: {reason}")
        member = self.holder(card_id)
        conversion_id = redemption_id_of(debit)
        result = self.office.convert(
            conversion_id, member.id, points, at=at, asset=asset, rate=self.redemption_rate,
            fee_bp=self.redemption_fee_bp, insurer_id=insurer_id, policy=policy)
        return RedemptionReceipt(conversion_id, result.status, points, result.quote.fen,
                                 result.target)

    # -- clearing ---------------------------------------------------------------------------

    def upload(self, batch: TerminalBatch, *, at: dt.datetime) -> UploadReceipt:
        if self.office.verifier is None:
            raise POSUsageError("the back office has no card verifier: it cannot clear batches")
        result = self.office.clear(batch, at=at)
        return UploadReceipt(result.batch_id, result.status, result.summary())

    def pay_prepaid(self, *, request_id: str, card_id: str, amount: int, merchant_id: str,
                    program: str | None = None) -> PrepaidPayment:
        """What ``POST /v1/prepaid/payments`` does, in process: the card names the holder's
        account of the merchant's program (a link configured with a terminal speaks for
        that terminal's merchant only)."""
        own = self._merchant()
        if own is not None and own != merchant_id:
            raise ValidationError(f"terminal {self.terminal_id} is {own}'s, not {merchant_id}'s")
        prepaid = PrepaidOffice(self.office.db)
        account = prepaid.account_of_card(card_id, merchant_id, program)
        answer = prepaid.pay(request_id, account, amount, at=dt.datetime.now(dt.UTC),
                             merchant_id=merchant_id)
        return PrepaidPayment.from_answer(answer)


def load_authority(points_keys: PurseKeySource | KeyProvider) -> LoadAuthority:
    """Who signs loads: the load host over purse keys, or over the masters a key provider
    (a token) holds."""
    if isinstance(points_keys, KeyProvider):
        from host.hsm.load_host import ProviderLoadHost

        return ProviderLoadHost(points_keys)
    return LoadHost(points_keys)


def open_backoffice(config: TerminalConfig) -> InProcessBackOffice:
    """The in-process back office a terminal configuration names: ledger, issuer and points
    issuer with their keys."""
    office = BackOffice(config.backoffice_url,
                        verifier=SoftwareCardVerifier(load_key_file(config.card_keys)))
    return InProcessBackOffice(office, payment_keys=load_payment_keys(config.payment_keys),
                               points_keys=load_points_keys(config.points_keys),
                               bank_id=config.bank_id, terminal_id=config.merchant.terminal_hex)
