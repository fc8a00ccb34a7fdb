"""The back office in the terminal's own process: the default :class:`BackOfficeLink`.

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

from apdu_specs.commands.purse_data import Purse
from apdu_specs.magstripe.tracks import Track2
from host.backoffice import Agreement, Asset, BackOffice, Member, MemberKind, Ratio
from host.backoffice.errors import NotFoundError
from host.backoffice.records import TerminalBatch
from host.payment.issuer import AuthorisationPolicy, AuthorisationRequest, Decision, Issuer
from host.payment.keys import IssuerKeys
from host.payment.scripts import set_credit_limit
from host.payment.stripe import stripe_cvv_ok
from host.points.keys import PurseKeySource
from host.points.load_host import LoadAuthorization, LoadHost
from host.points.messages import LoadInit
from host.points.records import PurseRecord

from .errors import POSUsageError
from .link import (
    EarnQuote,
    OnlineAnswer,
    PaymentMethod,
    RedemptionReceipt,
    StripeDecision,
    UploadReceipt,
)

__all__ = ["PURSE_ASSETS", "InProcessBackOffice"]

#: one point buys one fen, unless the alliance says otherwise
_ONE_FEN_PER_POINT = Ratio(1, 1)

#: chip 2's purses and the ledger's assets for them
PURSE_ASSETS = {Purse.CONSUMPTION: Asset.CONSUMPTION_POINTS, Purse.BANK: Asset.BANK_POINTS,
                Purse.CREDIT: Asset.CREDIT_POINTS}


def _decide(policy: AuthorisationPolicy, amount: int) -> Decision:
    if policy.approve_up_to is None or amount <= policy.approve_up_to:
        return Decision.APPROVE
    if policy.refer_up_to is not None and amount <= policy.refer_up_to:
        return Decision.REFERRAL
    return Decision.DECLINE


class InProcessBackOffice:
    """Issuer, points issuer and ledger in process, for one issuing bank (``bank_id``)."""

    def __init__(self, office: BackOffice, *, payment_keys: IssuerKeys,
                 points_keys: PurseKeySource, bank_id: str,
                 policy: AuthorisationPolicy | None = None,
                 redemption_rate: Ratio = _ONE_FEN_PER_POINT, redemption_fee_bp: int = 0,
                 agreements_max_age: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        self.office = office
        self.issuer = Issuer(payment_keys.emv, policy=policy)
        self._stripe_keys = payment_keys
        self._load_host = LoadHost(points_keys)
        self.bank_id = bank_id
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
        updates = self.office.pending_limit_updates(card_id) if method is PaymentMethod.CREDIT \
            else []
        orders = [partial(set_credit_limit, amount=u.new_limit) for u in updates]
        response = self.issuer.authorise(request, scripts_after=orders)
        return OnlineAnswer(response, tuple(u.script_id for u in updates),
                            updates[-1].new_limit if updates else None)

    def scripts_delivered(self, script_ids: Sequence[str], *, at: dt.datetime) -> None:
        for script_id in script_ids:
            self.office.mark_delivered(script_id, at=at)

    def authorise_stripe(self, track2: Track2, amount: int) -> StripeDecision:
        if not stripe_cvv_ok(track2.encode(), self._stripe_keys):
            return StripeDecision(Decision.DECLINE, "the stripe's CVV does not verify")
        decision = _decide(self.issuer.policy, amount)
        return StripeDecision(decision, "" if decision is Decision.APPROVE else "issuer policy")

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

    def load_key_index(self, card_id: str, purse: Purse) -> int:
        return self._load_host.key_index(card_id, purse)

    def authorize_load(self, card_id: str, init: LoadInit, when: dt.datetime) -> LoadAuthorization:
        return self._load_host.authorize(card_id, init, when)

    def confirm_load(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord:
        return self._load_host.confirm(authorization, tac)

    def redeem(self, *, redemption_id: str, card_id: str, purse: Purse, points: int,
               at: dt.datetime, insurer_id: str | None = None,
               policy: str | None = None) -> RedemptionReceipt:
        member = self.holder(card_id)
        result = self.office.convert(
            redemption_id, member.id, points, at=at, asset=PURSE_ASSETS[Purse(purse)],
            rate=self.redemption_rate, fee_bp=self.redemption_fee_bp, insurer_id=insurer_id,
            policy=policy)
        return RedemptionReceipt(redemption_id, result.status, points, result.quote.fen,
                                 result.target)

    # -- clearing ---------------------------------------------------------------------------

    def upload(self, batch: TerminalBatch, *, at: dt.datetime) -> UploadReceipt:
        if self.office.verifier is None:
            raise POSUsageError("the back office has no card verifier: it cannot clear batches")
        result = self.office.clear(batch, at=at)
        return UploadReceipt(result.batch_id, result.status, result.summary())
