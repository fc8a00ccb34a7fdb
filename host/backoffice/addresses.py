"""The holder's delivery address on file, and how a presented address is checked against it.

A consumer member has at most one delivery address (``bo_delivery_addresses``): the
street lines, the city and the postcode. An online order or a terminal presents an
address; the authentication centre compares it with the one on file the way card
networks' address verification does, and answers with one letter:

====  ==========================================================================
Y     street and postcode both match
A     the street matches, the postcode does not (partial)
Z     the postcode matches, the street does not (partial)
N     neither matches
U     no address on file for the holder (nothing to compare with)
====  ==========================================================================

Streets are compared after normalising both sides (:func:`normalise_street`): Unicode
NFKC (full-width forms become ASCII) and case folding, then only letters and digits kept —
punctuation and white space are how people differ in writing the same address ("No.12",
"No. 12", "no 12"), not what makes two addresses differ. Postcodes are compared exactly
(outer white space aside): a postcode that differs by a character names another delivery
area. The city is kept for the delivery slip and not compared (the postcode names it).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, delete, insert, select

from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.schema import FORMAT_VERSION, bo_delivery_addresses, bo_members

__all__ = ["AddressMatch", "DeliveryAddress", "compare_addresses", "delivery_address",
           "normalise_street", "set_delivery_address"]

_STREET_MAX, _CITY_MAX, _POSTCODE_MAX = 200, 64, 16


class AddressMatch(StrEnum):
    """The answer of an address check (see the module docstring)."""

    FULL = "Y"
    STREET_ONLY = "A"
    POSTCODE_ONLY = "Z"
    NO_MATCH = "N"
    UNAVAILABLE = "U"


@dataclass(frozen=True)
class DeliveryAddress:
    """An address as the holder gave it (on file) or an order presents it."""

    street: str  #: the street lines, without city or postcode
    postcode: str
    city: str = ""

    def __post_init__(self) -> None:
        for what, value, longest in (("street", self.street, _STREET_MAX),
                                     ("postcode", self.postcode, _POSTCODE_MAX),
                                     ("city", self.city, _CITY_MAX)):
            if not isinstance(value, str) or len(value) > longest or _has_control(value):
                raise ValidationError(f"an address's {what} is text of at most {longest} "
                                      "characters, without control characters")
        if not normalise_street(self.street) or not self.postcode.strip():
            raise ValidationError("an address has a street and a postcode")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(char).startswith("C") for char in text)


def normalise_street(text: str) -> str:
    """``text`` as streets are compared: folded case, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(char for char in folded if char.isalnum())


def compare_addresses(on_file: DeliveryAddress | None,
                      presented: DeliveryAddress) -> AddressMatch:
    """The check's answer for ``presented`` against the address on file."""
    if on_file is None:
        return AddressMatch.UNAVAILABLE
    street = normalise_street(on_file.street) == normalise_street(presented.street)
    postcode = on_file.postcode.strip() == presented.postcode.strip()
    if street and postcode:
        return AddressMatch.FULL
    if street:
        return AddressMatch.STREET_ONLY
    return AddressMatch.POSTCODE_ONLY if postcode else AddressMatch.NO_MATCH


def set_delivery_address(db: Database, member_id: str, address: DeliveryAddress, *,
                         at: datetime) -> None:
    """Put ``address`` on file for the consumer ``member_id`` (replacing any before)."""
    with db.write() as conn:
        kind = conn.execute(select(bo_members.c.kind)
                            .where(bo_members.c.id == member_id)).scalar()
        if kind != "consumer":
            raise NotFoundError(f"no consumer member {member_id!r}")
        conn.execute(delete(bo_delivery_addresses)
                     .where(bo_delivery_addresses.c.member_id == member_id))
        conn.execute(insert(bo_delivery_addresses).values(
            member_id=member_id, street=address.street, city=address.city,
            postcode=address.postcode, updated_at=to_micros(at),
            format_version=FORMAT_VERSION))


def delivery_address(conn: Connection, member_id: str) -> DeliveryAddress | None:
    """The member's delivery address on file, if any."""
    row = conn.execute(select(bo_delivery_addresses.c.street, bo_delivery_addresses.c.postcode,
                              bo_delivery_addresses.c.city)
                       .where(bo_delivery_addresses.c.member_id == member_id)).first()
    return None if row is None else DeliveryAddress(row.street, row.postcode, row.city)
