"""The authentication centre (F22): is this the holder, is this their address, can they pay?

A *holder check* names a card (its identity, and the PAN the terminal read) and asks for
any of three checks, each answered with its own code:

- **PIN** — an online PIN block (ISO 9564-1 format 0, enciphered under the sending
  terminal's ZPK, :mod:`.pin_keys`) is deciphered with the PAN the terminal sent and its
  PIN checked against the Visa PVV the card was issued with (the issuer's record, written
  by personalisation: :func:`host.perso.numbering.pin_check_of`). ``00`` right; ``55``
  wrong; ``75`` the card's PIN is blocked (the wrong PIN that reaches the limit answers
  ``75`` too); ``81`` the block does not decode under this terminal's ZPK (a block made
  under another terminal's key, or garbage: no try is counted, since no PIN was compared);
  ``86`` the PIN cannot be checked (no PVV on file, or the terminal has no ZPK). The PAN
  must be the one on the issuer's record: else the check answers ``14``.
- **address** — the presented delivery address against the holder's on file
  (:mod:`host.backoffice.addresses`): ``Y`` / ``A`` / ``Z`` / ``N`` / ``U``. Information
  for the merchant; it never declines by itself.
- **credit** — the amount against the holder's live credit line, available = limit −
  used − holds (:func:`host.backoffice.credit.credit_position`): ``00`` covered (an amount
  equal to what is available is covered); ``51`` above what is available; ``61`` above the
  line itself (no use of the line could make it fit).

The overall answer (DE 39) is ``14`` for a card that belongs to no holder; else the PIN's
code when a PIN was checked and is not right — and then nothing else is checked, so a
terminal without the PIN learns nothing of the holder's address or credit —; else the
credit's code; else ``00``.

Wrong PINs are counted per card in the database (``svc_pin_tries``), under a lock on the
card, so any number of service processes count the same tries; a right PIN sets the count
back to 0 until the limit is reached, after which the card stays blocked until
:func:`reset_pin_tries`. The PIN and the clear block live only inside :meth:`_compare`:
never logged, stored or put in a reason.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Connection, delete, insert, select, update

from apdu_specs.crypto.cvv import pvv
from apdu_specs.crypto.errors import PINBlockError
from apdu_specs.crypto.pin_blocks import decipher_format_0
from host.backoffice.addresses import AddressMatch, DeliveryAddress, compare_addresses
from host.backoffice.addresses import delivery_address as address_on_file
from host.backoffice.clock import to_micros
from host.backoffice.credit import credit_position
from host.backoffice.database import Database
from host.backoffice.members import MemberKind
from host.backoffice.schema import bo_members
from host.backoffice.service import BackOffice
from host.payment.keys import PaymentKeys
from host.perso.numbering import perso_cards, pin_check_of
from host.perso.plan import PINCheck

from .iso8583 import ResponseCode
from .kek import CLEAR, KeyVault
from .pin_keys import pin_key_of
from .schema import svc_pin_tries

__all__ = ["DEFAULT_PIN_TRIES", "AuthenticationCentre", "HolderCheck", "HolderCheckResult",
           "pin_failures", "reset_pin_tries"]

#: wrong online PINs in a row that block the card (the chip's own PIN try limit is 3 too)
DEFAULT_PIN_TRIES = 3
_PVV_PIN_DIGITS = 4


@dataclass(frozen=True)
class HolderCheck:
    """What a terminal asks: the card, and the checks it wants (None: not asked)."""

    card_id: str
    pan: str = ""
    pin_block: bytes | None = None  #: ISO 9564-1 format 0 under the terminal's ZPK
    amount: int | None = None  #: minor units of the credit line's currency (CNY fen)
    address: DeliveryAddress | None = None

    def __repr__(self) -> str:  # neither the PAN nor the block
        return (f"HolderCheck(card {self.card_id}, PIN {self.pin_block is not None}, "
                f"amount {self.amount}, address {self.address is not None})")


@dataclass(frozen=True)
class HolderCheckResult:
    """Each check's code (None: not done) and the overall one."""

    code: ResponseCode
    pin: ResponseCode | None = None
    address: AddressMatch | None = None
    credit: ResponseCode | None = None
    reason: str = ""


class AuthenticationCentre:
    """The checks over the back office (holders, credit lines), the issuer's card records
    (``card_records``: where the number store lives; default the back office's database)
    and the PVK the PVVs were computed with (its value, or the issuer's keys that hold it, in
    a token perhaps); the terminals' ZPKs unwrapped through ``vault``."""

    def __init__(self, office: BackOffice, *, pvk: bytes | PaymentKeys, card_records: Database | None = None,
                 max_pin_tries: int = DEFAULT_PIN_TRIES,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 vault: KeyVault = CLEAR) -> None:
        if max_pin_tries < 1:
            raise ValueError("a card takes at least one PIN try")
        self.office = office
        self.db = office.db
        self.card_records = card_records or office.db
        self.max_pin_tries = max_pin_tries
        self._pvv: Callable[[str, str, str], str] = partial(pvv, pvk) \
            if isinstance(pvk, bytes) else pvk.pvv
        self._clock = clock
        self._vault = vault

    def __repr__(self) -> str:
        return f"AuthenticationCentre({self.max_pin_tries} PIN tries)"

    def check(self, request: HolderCheck, terminal_id: str) -> HolderCheckResult:
        """Every check ``request`` asks for, for a request ``terminal_id`` sent."""
        member_id = self._holder(request.card_id)
        if member_id is None:
            return HolderCheckResult(ResponseCode.INVALID_CARD,
                                     reason=f"card {request.card_id} belongs to no holder")
        pin = reason = None
        if request.pin_block is not None:
            pin, reason = self._check_pin(request, terminal_id)
            if pin is not ResponseCode.APPROVED:
                return HolderCheckResult(pin, pin=pin, reason=reason)
        address = self._check_address(member_id, request.address)
        credit = self._check_credit(member_id, request.amount)
        overall = credit if credit not in (None, ResponseCode.APPROVED) else ResponseCode.APPROVED
        return HolderCheckResult(overall, pin, address, credit, reason or "")

    def _holder(self, card_id: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(select(bo_members.c.id).where(
                bo_members.c.card_id == card_id,
                bo_members.c.kind == MemberKind.CONSUMER.value)).scalar()

    # -- address and credit -----------------------------------------------------------------

    def _check_address(self, member_id: str,
                       presented: DeliveryAddress | None) -> AddressMatch | None:
        if presented is None:
            return None
        with self.db.read() as conn:
            return compare_addresses(address_on_file(conn, member_id), presented)

    def _check_credit(self, member_id: str, amount: int | None) -> ResponseCode | None:
        if not amount:
            return None
        position = credit_position(self.office.ledger, member_id)
        if amount > position.limit:
            return ResponseCode.EXCEEDS_LIMIT
        if amount > position.available:
            return ResponseCode.INSUFFICIENT_FUNDS
        return ResponseCode.APPROVED

    # -- the PIN ----------------------------------------------------------------------------

    def _check_pin(self, request: HolderCheck, terminal_id: str) -> tuple[ResponseCode, str]:
        assert request.pin_block is not None
        zpk = pin_key_of(self.db, terminal_id, self._vault)
        if zpk is None:
            return ResponseCode.CANNOT_VERIFY_PIN, f"terminal {terminal_id} has no ZPK"
        record = self._pin_record(request.card_id)
        if record is None:
            return ResponseCode.CANNOT_VERIFY_PIN, "no PVV on file for the card"
        pan, pin_check = record
        if pan != request.pan:
            return ResponseCode.INVALID_CARD, "the PAN is not the card's on the issuer's record"
        with self.db.write() as conn:
            self.db.lock_key(conn, f"pin-tries:{request.card_id}")
            failures = pin_failures(conn, request.card_id)
            if failures >= self.max_pin_tries:
                return ResponseCode.PIN_TRIES_EXCEEDED, "the card's PIN is blocked"
            try:
                right = self._compare(zpk, request.pin_block, pan, pin_check)
            except PINBlockError as exc:
                return ResponseCode.PIN_CRYPTOGRAPHIC_ERROR, f"PIN block: {exc}"
            failures = 0 if right else failures + 1
            self._store_failures(conn, request.card_id, failures)
        if right:
            return ResponseCode.APPROVED, ""
        if failures >= self.max_pin_tries:
            return ResponseCode.PIN_TRIES_EXCEEDED, f"wrong PIN {failures} times: blocked"
        return ResponseCode.INCORRECT_PIN, f"wrong PIN ({failures} of {self.max_pin_tries})"

    def _pin_record(self, card_id: str) -> tuple[str, PINCheck] | None:
        with self.card_records.read() as conn:
            if not conn.dialect.has_table(conn, perso_cards.name):
                return None  # no number store here: no card has a PVV on file
            return pin_check_of(conn, card_id)

    def _compare(self, zpk: bytes, block: bytes, pan: str, pin_check: PINCheck) -> bool:
        """Whether the block's PIN has the card's PVV (:class:`PINBlockError` if the block
        does not decode). The only place a clear PIN exists, and only here."""
        pin = decipher_format_0(zpk, block, pan)
        if len(pin) != _PVV_PIN_DIGITS:  # the card's PIN has 4 digits: its PVV says so
            return False
        expected = self._pvv(pan, pin_check.pvki, pin)
        return hmac.compare_digest(expected, pin_check.pvv)

    def _store_failures(self, conn: Connection, card_id: str, failures: int) -> None:
        values = {"failures": failures, "updated_at": to_micros(self._clock())}
        changed = conn.execute(update(svc_pin_tries).where(svc_pin_tries.c.card_id == card_id)
                               .values(**values)).rowcount
        if not changed:
            conn.execute(insert(svc_pin_tries).values(card_id=card_id, **values))


def pin_failures(conn: Connection, card_id: str) -> int:
    """Wrong online PINs in a row for the card (0 when none was ever wrong)."""
    value = conn.execute(select(svc_pin_tries.c.failures)
                         .where(svc_pin_tries.c.card_id == card_id)).scalar()
    return int(value or 0)


def reset_pin_tries(db: Database, card_id: str) -> bool:
    """Unblock a card's online PIN (an operator's act, after the holder proved who they
    are); False if it had no wrong PIN counted."""
    with db.write() as conn:
        return bool(conn.execute(delete(svc_pin_tries)
                                 .where(svc_pin_tries.c.card_id == card_id)).rowcount)
