"""Alliance-wide settings kept in the database: what a consumption point is worth in money
when merchants settle, and the time zone that defines a business day."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Connection, insert, select

from host.backoffice.errors import ConfigurationError, ValidationError
from host.backoffice.rates import Ratio
from host.backoffice.schema import FORMAT_VERSION, bo_settings

__all__ = ["AllianceSettings", "load_settings", "save_settings"]

_KEY = "alliance"
_ONE_FEN = Ratio(1, 1)


@dataclass(frozen=True, slots=True)
class AllianceSettings:
    """``point_value`` is fen per consumption point (1/1: one point is worth one fen);
    ``utc_offset_minutes`` fixes the business day (480: China Standard Time)."""

    point_value: Ratio = _ONE_FEN
    utc_offset_minutes: int = 480

    def __post_init__(self) -> None:
        if not -14 * 60 <= self.utc_offset_minutes <= 14 * 60:
            raise ValidationError("utc offset must be within ±14 hours")
        if self.point_value.num == 0:
            raise ValidationError("a point must be worth something")

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.utc_offset_minutes))

    def business_day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """[start, end) of a business day."""
        start = datetime.combine(day, time(0), self.tz)
        return start, start + timedelta(days=1)

    def to_json(self) -> str:
        return json.dumps({
            "point_value": str(self.point_value),
            "utc_offset_minutes": self.utc_offset_minutes,
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AllianceSettings:
        data = json.loads(text)
        num, den = (int(x) for x in data["point_value"].split("/"))
        return cls(Ratio(num, den), int(data["utc_offset_minutes"]))


def load_settings(conn: Connection) -> AllianceSettings:
    row = conn.execute(select(bo_settings.c.value).where(bo_settings.c.key == _KEY)).first()
    if row is None:
        raise ConfigurationError("the ledger is not initialised: run `dualcard ledger init`")
    return AllianceSettings.from_json(row.value)


def save_settings(conn: Connection, settings: AllianceSettings) -> str:
    """Store settings once; ``exists`` if equal ones are stored, an error if different."""
    row = conn.execute(select(bo_settings.c.value).where(bo_settings.c.key == _KEY)).first()
    if row is not None:
        if AllianceSettings.from_json(row.value) != settings:
            raise ConfigurationError(
                "the ledger was initialised with different settings: "
                f"{AllianceSettings.from_json(row.value)}"
            )
        return "exists"
    conn.execute(insert(bo_settings).values(
        key=_KEY, value=settings.to_json(), format_version=FORMAT_VERSION
    ))
    return "created"
