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
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import Connection, bindparam, insert, select

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
from host.points.load_host import LoadAuthority, LoadAuthorization
from host.points.messages import LoadInit
from host.records.assets import PURSE_ASSETS
from host.records.batch import SaleClaim

__all__ = ["LoadAuthoriser", "LoadRefusedError"]


class LoadRefusedError(BackOfficeError, RemoteError):
    """The points issuer will not sign this load; the message names the reason (a refusal of
    the terminal's claim, so a :class:`RemoteError`)."""


class LoadAuthoriser:
    """Signs loads for proven sales only; ``bank_id`` is the bank whose cards it serves."""

    def __init__(self, office: BackOffice, load_host: LoadAuthority, *, bank_id: str,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 agreements_max_age: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        self.office = office
        self.load_host = load_host
        self.bank_id = bank_id
        #: the issuer's own time (the agreement in force, the grant's time stamp): the card's
        #: date and time in the load are the terminal's, local and unproven until the TAC
        self.clock = clock
        self.agreements_max_age = agreements_max_age
        # Facts that never change once written (a terminal's merchant, a card's holder) and
        # the agreement tables, kept for ``agreements_max_age`` like a terminal's tables.
        self._merchants: dict[str, str] = {}
        self._groups: dict[str, str] = {}
        self._agreements: tuple[dt.datetime, AgreementBook] | None = None
        # The sales proven last (a sale earns on two purses, one load after the other): a
        # proof is a pure function of the record and the issuer's immutable answer.
        self._proofs: OrderedDict[tuple[object, ...], ProvenSale] = OrderedDict()

    def refresh(self) -> None:
        """Forget cached holders and agreement tables (after the alliance changed them)."""
        self._groups.clear()
        self._agreements = None

    def authorize(self, card_id: str, init: LoadInit, when: dt.datetime, *,
                  sale: SaleClaim) -> LoadAuthorization:
        """MAC2 for ``init`` if ``sale`` earns it; :class:`LoadRefusedError` otherwise.

        MAC1 is checked first (no database); then one write transaction proves the sale,
        applies the agreement and records the grant, so a refused load leaves nothing and a
        granted one is remembered before MAC2 leaves."""
        authorization = self.load_host.authorize(card_id, init, when)
        now = self.clock()
        with self.office.db.write(flush=False) as conn:
            terms, key = self._terms(conn, card_id, init, now, sale)
            if init.amount > terms.points:
                raise LoadRefusedError(
                    f"the sale earns {terms.points} {terms.agreement.asset.value} under "
                    f"{terms.agreement.id}, not {init.amount}")
            _grant(conn, card_id, key, init, now)
        return authorization

    def _terms(self, conn: Connection, card_id: str, init: LoadInit, now: dt.datetime,
               sale: SaleClaim) -> tuple[EarnTerms, str]:
        purse = PURSE_ASSETS[init.purse]
        terminal = init.terminal_id.hex().upper()
        proven = self._proof(conn, card_id, sale)
        if terminal not in self._merchants:
            self._merchants[terminal] = _merchant_of(conn, terminal)
        if card_id not in self._groups:
            self._groups[card_id] = _group_of(conn, card_id)
        agreements = self._agreement_book(conn, now)
        merchant_id, group = self._merchants[terminal], self._groups[card_id]
        if isinstance(proven, str):
            raise LoadRefusedError(f"no points without a proven sale: {proven}")
        named = None if purse.value == "consumption_points" else self.bank_id
        terms = earn_terms(purse, proven, merchant_id=merchant_id, named_issuer=named,
                           group=group, banks=frozenset({self.bank_id}),
                           agreements=agreements, at_micros=to_micros(now))
        if isinstance(terms, str):
            raise LoadRefusedError(f"the sale earns no {purse.value}: {terms}")
        return terms, proven.key

    def _proof(self, conn: Connection, card_id: str, sale: SaleClaim) -> ProvenSale | str:
        key = (card_id, sale.payment.canonical() if sale.payment else sale.authorisation_id)
        proven = self._proofs.get(key)
        if proven is None:
            result = _prove(conn, card_id, sale, self.office)
            if isinstance(result, str):
                return result
            proven = self._proofs[key] = result
            if len(self._proofs) > _PROOFS_KEPT:
                self._proofs.popitem(last=False)
        return proven

    def _agreement_book(self, conn: Connection, now: dt.datetime) -> AgreementBook:
        """Every agreement of the alliance, loaded again once older than the maximum age."""
        cached = self._agreements
        if cached is None or not cached[0] <= now < cached[0] + self.agreements_max_age:
            cached = self._agreements = (now, AgreementBook.load_all(conn))
        return cached[1]

def _grant(conn: Connection, card_id: str, sale_key: str, init: LoadInit,
           now: dt.datetime) -> None:
    """Record the grant; the same card, purse and online sequence asking again (the retry of
    a load the card never received) finds its own grant, anything else is refused."""
    purse = PURSE_ASSETS[init.purse].value
    row = conn.execute(_GRANT, {"card_id": card_id, "sale_key": sale_key,
                                "purse": purse}).first()
    if row is None:
        conn.execute(_INSERT_GRANT, {
            "card_id": card_id, "sale_key": sale_key, "purse": purse,
            "online_seq": init.online_seq, "amount": init.amount, "ts": to_micros(now),
            "format_version": FORMAT_VERSION})
    elif (row.online_seq, row.amount) != (init.online_seq, init.amount):
        raise LoadRefusedError(f"sale {sale_key} was already rewarded with {purse}")


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


_PROOFS_KEPT = 64
_INSERT_GRANT = insert(bo_load_grants)
_GRANT = select(bo_load_grants.c.online_seq, bo_load_grants.c.amount).where(
    bo_load_grants.c.card_id == bindparam("card_id"),
    bo_load_grants.c.sale_key == bindparam("sale_key"),
    bo_load_grants.c.purse == bindparam("purse"))
