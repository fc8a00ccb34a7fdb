"""What an issuer decides about one payment application before personalisation.

A profile is plain data (PAN, names, limits, PIN, algorithm, ARPC method); the DGIs
the card receives and the stripe's tracks are computed from it by :mod:`.perso` and
:mod:`.stripe`. Amounts are minor units of the application currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from apdu_specs.crypto import luhn
from apdu_specs.payment.aids import CREDIT_AID, DEBIT_AID
from apdu_specs.payment.cryptogram import AES_CVN, version_for
from apdu_specs.payment.errors import PaymentFormatError
from apdu_specs.payment.issuer_response import ARPCMethod

from .errors import PaymentProfileError

__all__ = ["ApplicationProfile", "Product"]


class Product(Enum):
    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def default_aid(self) -> bytes:
        return DEBIT_AID if self is Product.DEBIT else CREDIT_AID

    @property
    def default_label(self) -> str:
        return f"DUALCARD {self.name}"


def _digits(value: str, what: str, lengths: range) -> None:
    if not (value.isascii() and value.isdigit() and len(value) in lengths):
        raise PaymentProfileError(f"{what} must be {lengths.start}-{lengths.stop - 1} digits, got {value!r}")


@dataclass(frozen=True)
class ApplicationProfile:
    product: Product
    pan: str
    expiry: str  #: YYMM
    cardholder_name: str  #: SURNAME/GIVEN NAMES, as track 1 and tag 5F20 carry it
    psn: str = "00"
    effective: str | None = None  #: YYMM
    label: str = ""
    priority: int = 1
    aid: bytes = b""
    currency: int = 156  #: ISO 4217 numeric (156 CNY)
    currency_exponent: int = 2
    country: int = 156  #: ISO 3166 numeric of the issuer
    offline_limit: int = 50_000
    credit_limit: int | None = None
    lower_consecutive_offline: int = 3
    upper_consecutive_offline: int = 5
    pin: str | None = "1234"
    pin_try_limit: int = 3
    cvn: int = AES_CVN
    dki: int = 1
    arpc_method: ARPCMethod = ARPCMethod.METHOD_2
    initial_atc: int = 0
    aip: bytes = bytes.fromhex("1C00")
    service_code: str = "201"
    pvki: str = "1"
    check_luhn: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        _digits(self.pan, "PAN", range(12, 20))
        if self.check_luhn and not luhn.is_valid(self.pan):
            raise PaymentProfileError(f"PAN {self.pan[:6]}… fails the Luhn check")
        _digits(self.psn, "PAN sequence number", range(2, 3))
        for what, value in (("expiry", self.expiry), ("effective date", self.effective)):
            if value is not None:
                _digits(value, what, range(4, 5))
                if not 1 <= int(value[2:]) <= 12:
                    raise PaymentProfileError(f"{what} {value}: month must be 01-12")
        if self.pin is not None:
            _digits(self.pin, "PIN", range(4, 13))
        if (self.product is Product.CREDIT) != (self.credit_limit is not None):
            raise PaymentProfileError("a credit application has a credit limit, a debit one has none")
        if len(self.aip) != 2 or not 1 <= self.priority <= 15:
            raise PaymentProfileError("the AIP has 2 bytes and the priority is 1..15")
        try:
            version_for(self.cvn)
        except PaymentFormatError as exc:
            raise PaymentProfileError(str(exc)) from None
        if not 2 <= len(self.cardholder_name) <= 26:
            raise PaymentProfileError("the cardholder name has 2 to 26 characters")

    @property
    def application_aid(self) -> bytes:
        return self.aid or self.product.default_aid

    @property
    def application_label(self) -> str:
        return self.label or self.product.default_label
