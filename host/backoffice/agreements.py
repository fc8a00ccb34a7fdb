"""Agreements between an issuer (a merchant for consumption points, a bank for bank or credit
points) and a consumer group: the points calculation unit of F10.

An agreement says "``points`` points for every ``per_fen`` fen spent", with an explicit
rounding rule; for example 1 point per 1.00 CNY rounded down is ``points=1, per_fen=100,
rounding=down``: a purchase of 12,345 fen earns 123 points. Integer arithmetic only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from apdu_specs.caches import pure_cache
from host.backoffice.assets import Asset, check_amount
from host.backoffice.clock import from_micros, to_micros
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.members import MemberKind, check_member_id, find_member
from host.backoffice.rates import Ratio, Rounding
from host.backoffice.schema import FORMAT_VERSION, bo_agreements

__all__ = ["Agreement", "AgreementBook", "add_agreement", "list_agreements"]

#: Which kind of issuer may award which points.
_ISSUER_KINDS = {
    Asset.CONSUMPTION_POINTS: MemberKind.MERCHANT,
    Asset.BANK_POINTS: MemberKind.BANK,
    Asset.CREDIT_POINTS: MemberKind.BANK,
}


@dataclass(frozen=True, slots=True)
class Agreement:
    """An earn rate between an issuer and a consumer group, valid from a time (inclusive)
    until another (exclusive, or open-ended)."""

    id: str
    issuer_id: str
    consumer_group: str
    asset: Asset
    points: int
    per_fen: int
    rounding: Rounding
    valid_from: datetime
    valid_to: datetime | None = None

    def __post_init__(self) -> None:
        check_member_id(self.id)
        check_member_id(self.issuer_id)
        check_member_id(self.consumer_group)
        if self.asset not in _ISSUER_KINDS:
            raise ValidationError(f"agreement {self.id}: {self.asset} is not a card purse")
        check_amount(self.points, allow_zero=True, what="agreement points")
        check_amount(self.per_fen, what="agreement per_fen")
        if not isinstance(self.rounding, Rounding):
            raise ValidationError(f"agreement {self.id}: rounding must be a Rounding")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValidationError(f"agreement {self.id}: valid_to must be after valid_from")

    @property
    def rate(self) -> Ratio:
        return _ratio(self.points, self.per_fen)

    def points_for(self, purchase_fen: int) -> int:
        """Points earned on a purchase of ``purchase_fen`` fen."""
        return self.rate.apply(check_amount(purchase_fen, allow_zero=True), self.rounding)

    def valid_at(self, at_micros: int) -> bool:
        start = to_micros(self.valid_from)
        end = None if self.valid_to is None else to_micros(self.valid_to)
        return start <= at_micros and (end is None or at_micros < end)

    @classmethod
    def from_row(cls, row: Any) -> Agreement:
        return cls(
            row.id, row.issuer_id, row.consumer_group, Asset(row.asset), row.points_num,
            row.per_fen, Rounding(row.rounding), from_micros(row.valid_from),
            None if row.valid_to is None else from_micros(row.valid_to),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "issuer": self.issuer_id, "consumer_group": self.consumer_group,
            "asset": self.asset.value, "points": self.points, "per_fen": self.per_fen,
            "rounding": self.rounding.value, "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
        }


@pure_cache(maxsize=1024)
def _ratio(points: int, per_fen: int) -> Ratio:
    """The rate of an agreement, made once: clearing asks for it on every load record."""
    return Ratio(points, per_fen)


def add_agreement(conn: Connection, agreement: Agreement, *, at: datetime) -> str:
    """Record an agreement; ``exists`` if recorded before identically."""
    row = conn.execute(
        select(bo_agreements).where(bo_agreements.c.id == agreement.id)
    ).one_or_none()
    if row is not None:
        known = Agreement.from_row(row)
        for name in Agreement.__slots__:
            if getattr(known, name) != getattr(agreement, name):
                raise IdReusedError("agreement", agreement.id, name)
        return "exists"
    issuer = find_member(conn, agreement.issuer_id)
    if issuer.kind is not _ISSUER_KINDS[agreement.asset]:
        raise ValidationError(
            f"agreement {agreement.id}: {agreement.asset.value} are issued by a "
            f"{_ISSUER_KINDS[agreement.asset].value}, not by {issuer.kind.value} {issuer.id}"
        )
    conn.execute(insert(bo_agreements).values(
        id=agreement.id, issuer_id=agreement.issuer_id, consumer_group=agreement.consumer_group,
        asset=agreement.asset.value, points_num=agreement.points, per_fen=agreement.per_fen,
        rounding=agreement.rounding.value, valid_from=to_micros(agreement.valid_from),
        valid_to=None if agreement.valid_to is None else to_micros(agreement.valid_to),
        created_at=to_micros(at), format_version=FORMAT_VERSION,
    ))
    return "created"


def list_agreements(conn: Connection, issuer_id: str | None = None) -> list[Agreement]:
    query = select(bo_agreements).order_by(bo_agreements.c.issuer_id, bo_agreements.c.id)
    if issuer_id is not None:
        query = query.where(bo_agreements.c.issuer_id == issuer_id)
    return [Agreement.from_row(r) for r in conn.execute(query)]


class AgreementBook:
    """The agreements of some issuers, loaded once for a batch: picks the one in force."""

    def __init__(self, agreements: Iterable[Agreement]) -> None:
        self._by_key: dict[tuple[str, str, Asset], list[tuple[int, int | None, Agreement]]] = {}
        for agreement in agreements:
            key = (agreement.issuer_id, agreement.consumer_group, agreement.asset)
            end = None if agreement.valid_to is None else to_micros(agreement.valid_to)
            self._by_key.setdefault(key, []).append(
                (to_micros(agreement.valid_from), end, agreement)
            )
        for items in self._by_key.values():
            items.sort(key=lambda item: (item[0], item[2].id), reverse=True)

    @classmethod
    def load(cls, conn: Connection, issuer_ids: Iterable[str]) -> AgreementBook:
        ids = sorted(set(issuer_ids))
        query = select(bo_agreements).where(bo_agreements.c.issuer_id.in_(ids))
        return cls(Agreement.from_row(r) for r in conn.execute(query))

    @classmethod
    def load_all(cls, conn: Connection) -> AgreementBook:
        """Every agreement of the alliance (a few per member: small enough to keep)."""
        return cls(Agreement.from_row(r) for r in conn.execute(select(bo_agreements)))

    def find(self, issuer_id: str, group: str, asset: Asset, at_micros: int) -> Agreement:
        """The newest agreement in force at ``at_micros``."""
        for start, end, agreement in self._by_key.get((issuer_id, group, asset), ()):
            if start <= at_micros and (end is None or at_micros < end):
                return agreement
        raise NotFoundError(f"no {asset.value} agreement between {issuer_id} and group {group}")
