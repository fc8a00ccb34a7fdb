"""Per-card data: a holder record and its card numbers resolved against the profile, plus
the card's fresh PIN.

The numbers (card identity, PAN, PAN sequence number) come from the issuer's number store
(:mod:`.numbering`), which hands a resumed batch the numbers it already holds and never
gives one to two cards. The PIN comes from :mod:`secrets` every time; it is only ever
written to the card (encrypted) and to the PIN mailer.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass, field
from itertools import pairwise

from .errors import HolderError
from .holders import HolderRecord
from .profile import Profile

__all__ = ["CardData", "CardNumbers", "generate_pin", "mask_pan", "resolve_card"]


def mask_pan(pan: str) -> str:
    """First 6 and last 4 digits shown, the rest ``*`` (as receipts and audit logs show a PAN)."""
    if len(pan) <= 10:
        return "*" * (len(pan) - 4) + pan[-4:]
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def _weak(pin: str) -> bool:
    steps = {int(b) - int(a) for a, b in pairwise(pin)}
    return len(set(pin)) == 1 or steps in ({1}, {-1})


def generate_pin(length: int) -> str:
    """A random PIN of ``length`` digits, never all-equal or a straight run (1234, 9876)."""
    while True:
        pin = str(secrets.randbelow(10**length)).zfill(length)
        if not _weak(pin):
            return pin


@dataclass(frozen=True)
class CardNumbers:
    """The numbers one card carries, as the number store gave them out."""

    card_id: str
    pan: str
    psn: str
    #: already on a card that was issued: only that card may take them (its PIN renewed)
    issued: bool = False
    #: the card this one replaces (same PAN, the next PAN sequence numbers)
    replaces: str | None = None

    def __repr__(self) -> str:
        state = "issued" if self.issued else "allocated"
        return f"CardNumbers(card {self.card_id}, PAN {mask_pan(self.pan)}, {state})"


@dataclass(frozen=True, repr=False)
class CardData:
    """Everything personal that goes on one card; the repr masks the PAN and hides the PIN."""

    index: int
    card_id: str
    holder_id: str
    name: str
    pan: str
    psn: str
    expiry: str  #: YYMM
    effective: str  #: YYMMDD, the issue date
    pin: str = field(repr=False)
    #: the numbers are already on an issued card: only that card may take them
    already_issued: bool = False

    @property
    def masked_pan(self) -> str:
        return mask_pan(self.pan)

    @property
    def expiry_date(self) -> str:
        """YYMMDD with the last day of the expiry month (EMV 5F24)."""
        year, month = 2000 + int(self.expiry[:2]), int(self.expiry[2:])
        following = _dt.date(year + month // 12, month % 12 + 1, 1)
        return (following - _dt.timedelta(days=1)).strftime("%y%m%d")

    def __repr__(self) -> str:
        return f"CardData(card {self.card_id}, PAN {self.masked_pan}, expiry {self.expiry})"


def _default_expiry(today: _dt.date, months: int) -> str:
    total = today.year * 12 + today.month - 1 + months
    return f"{total // 12 % 100:02d}{total % 12 + 1:02d}"


def resolve_card(holder: HolderRecord, profile: Profile, numbers: CardNumbers | None = None, *,
                 today: _dt.date | None = None, pin: str | None = None) -> CardData:
    """The card data of ``holder`` with ``numbers`` (``pin`` is for tests; normally a fresh one
    is generated). Without ``numbers`` the holder record must give both the PAN and the card
    identity (and nothing then checks that no other card has them)."""
    today = today or _dt.date.today()
    where = f"holder row {holder.row}"
    if numbers is None:
        numbers = _given_numbers(holder, profile, where)
    expiry = holder.expiry or _default_expiry(today, profile.card.expiry_months)
    if (2000 + int(expiry[:2]), int(expiry[2:])) < (today.year, today.month):
        raise HolderError(where, "expiry", f"{expiry} is in the past")
    return CardData(
        index=holder.index,
        card_id=numbers.card_id,
        holder_id=holder.holder_id,
        name=holder.name,
        pan=numbers.pan,
        psn=numbers.psn,
        expiry=expiry,
        effective=today.strftime("%y%m%d"),
        pin=pin if pin is not None else generate_pin(profile.pin.length),
        already_issued=numbers.issued,
    )


def _given_numbers(holder: HolderRecord, profile: Profile, where: str) -> CardNumbers:
    for column in ("pan", "card_id"):
        if getattr(holder, column) is None:
            raise HolderError(where, column, "is empty and no number store was given to "
                                             "allocate one (host.perso.numbering)")
    assert holder.pan is not None and holder.card_id is not None
    return CardNumbers(holder.card_id, holder.pan, profile.card.psn)
