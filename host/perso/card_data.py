"""Per-card data: a holder record resolved against the profile, plus the card's fresh PIN.

Resolution is deterministic for everything but the PIN: the ``index``-th holder always
gets the same card identity and (from a PAN range) the same PAN, so a resumed batch
reissues the same numbers. The PIN comes from :mod:`secrets` every time; it is only
ever written to the card (encrypted) and to the PIN mailer.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass, field
from itertools import pairwise

from .errors import HolderError
from .holders import HolderRecord
from .profile import Profile

__all__ = ["CardData", "generate_pin", "mask_pan", "resolve_card"]


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


def resolve_card(holder: HolderRecord, profile: Profile, *, today: _dt.date | None = None,
                 pin: str | None = None) -> CardData:
    """The card data of ``holder`` (``pin`` is for tests; normally a fresh one is generated)."""
    today = today or _dt.date.today()
    where = f"holder row {holder.row}"
    pan = holder.pan
    if pan is None:
        if profile.card.pan_range is None:
            raise HolderError(where, "pan", "is empty and the profile has no card.pan_range")
        pan = profile.card.pan_range.pan(holder.index)
    card_id = holder.card_id or profile.card.card_id(holder.index)
    expiry = holder.expiry or _default_expiry(today, profile.card.expiry_months)
    if (2000 + int(expiry[:2]), int(expiry[2:])) < (today.year, today.month):
        raise HolderError(where, "expiry", f"{expiry} is in the past")
    return CardData(
        index=holder.index,
        card_id=card_id,
        holder_id=holder.holder_id,
        name=holder.name,
        pan=pan,
        psn=profile.card.psn,
        expiry=expiry,
        effective=today.strftime("%y%m%d"),
        pin=pin if pin is not None else generate_pin(profile.pin.length),
    )
