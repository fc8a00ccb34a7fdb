"""The points issuer's decision before it signs a load (MAC2): a proven sale, the agreed
points at most, once (F2, F10; docs/trust.md).

:class:`host.points.LoadHost` proves the card genuine (MAC1) and signs; it knows nothing of
sales. Left alone it would sign any load a terminal asks for, and the card would hold points
no sale earned. :class:`LoadAuthoriser` stands in front of it with the same rules clearing
applies later (:mod:`.sale_proof`, :mod:`.earning`):

* the sale is proven by the card's cryptograms and the issuer's own record (a chip payment
  record) or by the issuer's approval record alone (a swiped sale);
* the merchant is the one the load's terminal is registered to (the terminal id is under
  MAC1, MAC2 and the TAC, so the card's record will name it too);
* the amount is at most what the agreement in force gives for the proven amount;
* one grant per card, sale and purse (``bo_load_grants``). Asking again for the same card,
  purse and online sequence — a load the card never received, retried — gets the same
  grant; anything else is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from apdu_specs.errors import RemoteError
from host.backoffice.agreements import AgreementBook
from host.backoffice.authorisations import authorisation_by_arqc, authorisation_by_id
from host.backoffice.clock import to_micros
from host.backoffice.earning import EarnTerms, earn_terms
from host.backoffice.errors import BackOfficeError, NotFoundError
from host.backoffice.members import MemberKind, merchant_of_terminal
from host.backoffice.sale_proof import ProvenSale, prove_payment, prove_stripe_sale
from host.backoffice.schema import FORMAT_VERSION, bo_load_grants, bo_members
from host.backoffice.service import BackOffice
from host.points.load_host import LoadAuthorization, LoadHost
from host.points.messages import LoadInit
from host.records.assets import PURSE_ASSETS
from host.records.batch import SaleClaim

__all__ = ["LoadAuthoriser", "LoadRefusedError"]


class LoadRefusedError(BackOfficeError, RemoteError):
    """The points issuer will not sign this load; the message names the reason (a refusal of
    the terminal's claim, so a :class:`RemoteError`)."""


class LoadAuthoriser:
    """Signs loads for proven sales only; ``bank_id`` is the bank whose cards it serves."""

    def __init__(self, office: BackOffice, load_host: LoadHost, *, bank_id: str,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.office = office
        self.load_host = load_host
        self.bank_id = bank_id
        #: the issuer's own time (the agreement in force, the grant's time stamp): the card's
        #: date and time in the load are the terminal's, local and unproven until the TAC
        self.clock = clock

    def authorize(self, card_id: str, init: LoadInit, when: dt.datetime, *,
                  sale: SaleClaim) -> LoadAuthorization:
        """MAC2 for ``init`` if ``sale`` earns it; :class:`LoadRefusedError` otherwise."""
        now = self.clock()
        terms, key = self._terms(card_id, init, now, sale)
        if init.amount > terms.points:
            raise LoadRefusedError(
                f"the sale earns {terms.points} {terms.agreement.asset.value} under "
                f"{terms.agreement.id}, not {init.amount}")
        authorization = self.load_host.authorize(card_id, init, when)
        self._grant(card_id, key, init, now)
        return authorization

    def _terms(self, card_id: str, init: LoadInit, now: dt.datetime,
               sale: SaleClaim) -> tuple[EarnTerms, str]:
        purse = PURSE_ASSETS[init.purse]
        with self.office.db.read() as conn:
            proven = _prove(conn, card_id, sale, self.office)
            merchant_id = _merchant_of(conn, init.terminal_id.hex().upper())
            group = _group_of(conn, card_id)
            agreements = AgreementBook.load(conn, {merchant_id, self.bank_id})
        if isinstance(proven, str):
            raise LoadRefusedError(f"no points without a proven sale: {proven}")
        named = None if purse.value == "consumption_points" else self.bank_id
        terms = earn_terms(purse, proven, merchant_id=merchant_id, named_issuer=named,
                           group=group, banks=frozenset({self.bank_id}),
                           agreements=agreements, at_micros=to_micros(now))
        if isinstance(terms, str):
            raise LoadRefusedError(f"the sale earns no {purse.value}: {terms}")
        return terms, proven.key

    def _grant(self, card_id: str, sale_key: str, init: LoadInit, now: dt.datetime) -> None:
        purse = PURSE_ASSETS[init.purse].value
        try:
            with self.office.db.write() as conn:
                conn.execute(insert(bo_load_grants).values(
                    card_id=card_id, sale_key=sale_key, purse=purse,
                    online_seq=init.online_seq, amount=init.amount, ts=to_micros(now),
                    format_version=FORMAT_VERSION))
        except IntegrityError:
            with self.office.db.read() as conn:
                row = conn.execute(select(bo_load_grants).where(
                    bo_load_grants.c.card_id == card_id, bo_load_grants.c.sale_key == sale_key,
                    bo_load_grants.c.purse == purse)).one()
            if (row.online_seq, row.amount) != (init.online_seq, init.amount):
                raise LoadRefusedError(
                    f"sale {sale_key} was already rewarded with {purse}") from None


def _prove(conn: Connection, card_id: str, sale: SaleClaim,
           office: BackOffice) -> ProvenSale | str:
    if sale.payment is not None:
        if office.verifier is None:
            return "no_card_verifier"
        approval = authorisation_by_arqc(conn, sale.payment.arqc)
        proven = prove_payment(sale.payment, office.verifier, approval)
        if isinstance(proven, ProvenSale) and proven.card_id != card_id:
            return "payment_of_another_card"
        return proven
    if sale.authorisation_id is not None:
        return prove_stripe_sale(card_id, authorisation_by_id(conn, sale.authorisation_id))
    return "load_without_sale"


def _merchant_of(conn: Connection, terminal_id: str) -> str:
    merchant_id = merchant_of_terminal(conn, terminal_id)
    if merchant_id is None:
        raise LoadRefusedError(f"terminal {terminal_id} is not registered to any merchant")
    return merchant_id


def _group_of(conn: Connection, card_id: str) -> str:
    row = conn.execute(select(bo_members.c.consumer_group).where(
        bo_members.c.card_id == card_id,
        bo_members.c.kind == MemberKind.CONSUMER.value)).first()
    if row is None:
        raise NotFoundError(f"card {card_id} belongs to no alliance member")
    return str(row.consumer_group or "")
