"""An insurer's premium rate table (F14), without I/O.

Each row gives a yearly rate (basis points) for policies whose term (days) and sum insured
(fen) fall in its bands, both ends included, for cards of one holder kind or of either. An
insurer's rows never overlap, so exactly one row — or none — prices a policy; the policy
records which. An insurer without a table prices at its programs' own flat rate
(``Program.premium_bp``); once it has a table, a card the table does not cover is refused at
issue, nothing posted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from host.backoffice.assets import MAX_AMOUNT
from host.backoffice.errors import ValidationError
from host.backoffice.members import check_member_id
from host.backoffice.prepaid.errors import NoRateError
from host.backoffice.prepaid.programs import BP, HolderKind, Program

__all__ = ["RateRow", "RateTable", "check_no_overlap"]

_MAX_TERM_DAYS = 36_500


@dataclass(frozen=True, slots=True)
class RateRow:
    """One row of an insurer's table; ``holder_kind=None``: cards of either kind."""

    insurer_id: str
    id: str
    term_from: int
    term_to: int
    insured_from: int
    insured_to: int
    rate_bp: int
    holder_kind: HolderKind | None = None

    def __post_init__(self) -> None:
        check_member_id(self.insurer_id)
        check_member_id(self.id)
        what = f"rate {self.insurer_id}/{self.id}"
        _band(self.term_from, self.term_to, 1, _MAX_TERM_DAYS, f"{what}: term (days)")
        _band(self.insured_from, self.insured_to, 0, MAX_AMOUNT, f"{what}: sum insured (fen)")
        _band(self.rate_bp, self.rate_bp, 0, BP, f"{what}: rate (bp)")
        if self.holder_kind is not None and not isinstance(self.holder_kind, HolderKind):
            raise ValidationError(f"{what}: holder kind must be a HolderKind or None")

    def covers(self, term_days: int, sum_insured: int, kind: HolderKind) -> bool:
        return (self.term_from <= term_days <= self.term_to
                and self.insured_from <= sum_insured <= self.insured_to
                and self.holder_kind in (None, kind))

    def overlaps(self, other: RateRow) -> bool:
        """Whether some policy would fall in both rows."""
        return (self.insurer_id == other.insurer_id
                and self.term_from <= other.term_to and other.term_from <= self.term_to
                and self.insured_from <= other.insured_to
                and other.insured_from <= self.insured_to
                and (self.holder_kind is None or other.holder_kind is None
                     or self.holder_kind is other.holder_kind))

    def as_dict(self) -> dict[str, Any]:
        return {"insurer": self.insurer_id, "row": self.id, "term_from": self.term_from,
                "term_to": self.term_to, "insured_from": self.insured_from,
                "insured_to": self.insured_to,
                "holder_kind": None if self.holder_kind is None else self.holder_kind.value,
                "rate_bp": self.rate_bp}


def check_no_overlap(new: RateRow, rows: Iterable[RateRow]) -> None:
    """Refuse a row that would price a policy some other row of its insurer prices."""
    for row in rows:
        if row.id != new.id and new.overlaps(row):
            raise ValidationError(f"rate {new.insurer_id}/{new.id} overlaps row {row.id} "
                                  f"(terms {row.term_from}-{row.term_to} days, sums insured "
                                  f"{row.insured_from}-{row.insured_to} fen)")


class RateTable:
    """The tables of the insurers a sales batch insures with, each policy priced by its row.
    Cards of a program mostly look alike: each look-up is remembered."""

    def __init__(self, rows: Iterable[RateRow]) -> None:
        self._rows: dict[str, list[RateRow]] = {}
        for row in rows:
            self._rows.setdefault(row.insurer_id, []).append(row)
        self._seen: dict[tuple[str, int, int, int, HolderKind], tuple[int, str | None]] = {}

    def price(self, program: Program, sum_insured: int, kind: HolderKind
              ) -> tuple[int, str | None]:
        """The yearly rate (bp) of a card's policy and the row that gave it (None: the
        program's flat rate, its insurer having no table)."""
        key = (program.insurer_id, program.premium_bp, program.term_days, sum_insured, kind)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = self._look_up(program, sum_insured, kind)
        return found

    def _look_up(self, program: Program, sum_insured: int, kind: HolderKind
                 ) -> tuple[int, str | None]:
        rows = self._rows.get(program.insurer_id)
        if not rows:
            return program.premium_bp, None
        for row in rows:
            if row.covers(program.term_days, sum_insured, kind):
                return row.rate_bp, row.id
        raise NoRateError(f"{program.insurer_id}'s rate table has no row for a term of "
                          f"{program.term_days} days, a sum insured of {sum_insured} fen, "
                          f"a {kind.value} card (program {program.id})")


def _band(low: object, high: object, lowest: int, highest: int, what: str) -> None:
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, int) or \
                not lowest <= value <= highest:
            raise ValidationError(f"{what} must be integers in {lowest}..{highest}, "
                                  f"got {low!r}..{high!r}")
    assert isinstance(low, int) and isinstance(high, int)
    if low > high:
        raise ValidationError(f"{what}: the band starts after it ends ({low}..{high})")
