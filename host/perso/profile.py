"""The personalisation profile: what an issuer puts on every card of a product (TOML, versioned).

One profile describes a card product: the issuer, the algorithm suite, the key references
into the key file, which applications go on which chip under which AIDs, the payment
data templates, the magnetic stripe, the points purses and the PIN rules. Per-card data
(holder, PAN, expiry) comes from the holder records, never from the profile.

:func:`load_profile` validates everything up front and names the field at fault
(``chip1.applications[1].offline_limit: must be between 0 and 4294967295``), so a bad
profile fails before the first card, not in the middle of a batch. The sample profile in
``examples/perso/profile.toml`` documents every setting.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from apdu_specs.commands.purse_data import (
    PURSE_AID,
    PURSE_LOAD_FILE_AID,
    PURSE_MODULE_AID,
    Purse,
)
from apdu_specs.crypto.errors import UnsupportedAlgorithmError
from apdu_specs.crypto.luhn import check_digit
from apdu_specs.crypto.suite import AlgorithmSuite, suite_named
from apdu_specs.documents import toml_document
from apdu_specs.payment import aids as payment_aids
from apdu_specs.payment.cryptogram import VERSIONS

from ..files import read_bytes
from ._fields import MISSING, Table
from .errors import ProfileError

__all__ = [
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "AppKind",
    "ApplicationSpec",
    "CardNumbering",
    "KeyReferences",
    "MagstripeSettings",
    "PANRange",
    "PINSettings",
    "PaymentSettings",
    "PointsSettings",
    "Profile",
    "load_profile",
    "parse_profile",
]

PROFILE_FORMAT = "dualcard-perso-profile"
PROFILE_VERSION = 1

_U32 = (1 << 32) - 1
_AID = range(5, 17)


class AppKind(StrEnum):
    """What an application entry installs; each kind has its own data builder."""

    DIRECTORY = "directory"  #: the payment directory (PSE / PPSE) on chip 1
    PAYMENT = "payment"  #: a debit or credit application on chip 1
    PURSE = "purse"  #: the points purse on chip 2


#: load file and module each kind is instantiated from, unless the profile says otherwise
_DEFAULT_CODE = {
    AppKind.DIRECTORY: (payment_aids.LOAD_FILE_AID, payment_aids.DIRECTORY_MODULE_AID),
    AppKind.PAYMENT: (payment_aids.LOAD_FILE_AID, payment_aids.APPLICATION_MODULE_AID),
    AppKind.PURSE: (PURSE_LOAD_FILE_AID, PURSE_MODULE_AID),
}
_CHIP_OF_KIND = {AppKind.DIRECTORY: 1, AppKind.PAYMENT: 1, AppKind.PURSE: 2}


@dataclass(frozen=True)
class PaymentSettings:
    """Card risk management and data template of one payment application."""

    label: str
    priority: int
    offline_limit: int
    credit_limit: int | None
    lower_consecutive_offline: int
    upper_consecutive_offline: int
    dki: int
    arpc_method: int
    #: PAN sequence number; None: the card's PSN plus the application's rank among payments
    psn: str | None = None
    #: record data objects (tag → value) added to or replacing those of record 2 of SFI 1
    template: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplicationSpec:
    """One application instance to install on a chip."""

    kind: AppKind
    name: str
    chip: int
    aid: bytes
    load_file: bytes
    module: bytes
    privileges: bytes = b"\x00"
    payment: PaymentSettings | None = None
    #: the application moves itself to PERSONALIZED on its last STORE DATA block (as EMV
    #: CPS applications do); False: the run sends SET STATUS PERSONALIZED after the data
    marks_personalized: bool = False

    @property
    def label(self) -> str:
        return f"chip{self.chip} {self.name} ({self.aid.hex().upper()})"


@dataclass(frozen=True)
class KeyReferences:
    """Which key of the key file serves which purpose."""

    isd: str = "isd"
    emv_ac: str = "emv_ac"
    emv_smi: str = "emv_smi"
    emv_smc: str = "emv_smc"
    cvk: str = "cvk"
    pvk: str = "pvk"
    purse_load: str = "purse_load"
    purse_purchase: str = "purse_purchase"
    purse_tac: str = "purse_tac"

    def used(self, profile: Profile) -> list[str]:
        """The references this profile actually needs (for a check before the first card)."""
        names = [self.isd]
        if profile.payment_apps:  # the CVK and PVK also make the chip's iCVV and PVV
            names += [self.emv_ac, self.emv_smi, self.emv_smc, self.cvk, self.pvk]
        if profile.purse_apps:
            names += [self.purse_load, self.purse_purchase, self.purse_tac]
        return names


@dataclass(frozen=True)
class PANRange:
    """PANs for holders without one: ``prefix ‖ sequence ‖ Luhn check digit``."""

    prefix: str
    length: int
    first: int

    @property
    def capacity(self) -> int:
        return 10 ** (self.length - len(self.prefix) - 1)

    def pan_at(self, sequence: int) -> str:
        """The PAN with sequence number ``sequence`` (the number store counts from ``first``)."""
        if not 0 <= sequence < self.capacity:
            raise ProfileError("card.pan_range", f"exhausted: sequence {sequence} is beyond the "
                               f"range, which holds {self.capacity} numbers")
        payload = self.prefix + str(sequence).zfill(self.length - len(self.prefix) - 1)
        return payload + check_digit(payload)


@dataclass(frozen=True)
class CardNumbering:
    """How card identities, PAN sequence numbers and expiry dates are chosen."""

    id_prefix: str
    id_length: int
    psn: str
    expiry_months: int
    pan_range: PANRange | None

    def card_id_at(self, number: int) -> str:
        """The card identity with sequence number ``number`` (the number store counts from 1)."""
        width = self.id_length - len(self.id_prefix)
        digits = str(number)
        if len(digits) > width:
            raise ProfileError("card.id_prefix",
                               f"leaves {width} digits, too few for card {digits}")
        return self.id_prefix + digits.zfill(width)


@dataclass(frozen=True)
class PINSettings:
    length: int
    try_limit: int


@dataclass(frozen=True)
class MagstripeSettings:
    enabled: bool
    service_code: str
    pvki: str


@dataclass(frozen=True)
class PointsSettings:
    max_balance: dict[Purse, int]
    initial: dict[Purse, int]
    mac_try_limit: int
    key_index: int
    key_version: int
    pin_for_purchase: bool


@dataclass(frozen=True)
class Profile:
    """A validated personalisation profile."""

    name: str
    issuer: str
    suite: AlgorithmSuite
    country: int
    currency: int
    currency_exponent: int
    isd_key_version: int
    keys: KeyReferences
    applications: tuple[ApplicationSpec, ...]
    card: CardNumbering
    pin: PINSettings
    magstripe: MagstripeSettings
    points: PointsSettings
    #: SHA-256 of the profile file, recorded in the audit journal
    fingerprint: str = ""

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, {self.suite.name}, {len(self.applications)} applications)"

    def chip_apps(self, chip: int) -> tuple[ApplicationSpec, ...]:
        return tuple(a for a in self.applications if a.chip == chip)

    @property
    def chips(self) -> tuple[int, ...]:
        """Both chips, always: a chip without applications still gets its own keys and is
        SECURED, so no card leaves with the factory keys."""
        return (1, 2)

    @property
    def payment_apps(self) -> tuple[ApplicationSpec, ...]:
        return tuple(a for a in self.applications if a.kind is AppKind.PAYMENT)

    @property
    def purse_apps(self) -> tuple[ApplicationSpec, ...]:
        return tuple(a for a in self.applications if a.kind is AppKind.PURSE)

    @property
    def cvn(self) -> int:
        """The payment cryptogram version of the profile's suite."""
        for cvn, version in VERSIONS.items():
            if version.suite.name == self.suite.name:
                return cvn
        raise ProfileError("issuer.suite", f"{self.suite.name} has no payment cryptogram version")


# --- parsing --------------------------------------------------------------------------------


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file."""
    raw = read_bytes(path)
    profile = parse_profile(toml_document(raw, str(path)), source=str(path))
    return _with_fingerprint(profile, hashlib.sha256(raw).hexdigest())


def _with_fingerprint(profile: Profile, fingerprint: str) -> Profile:
    return replace(profile, fingerprint=fingerprint)


def parse_profile(data: Any, *, source: str = "profile") -> Profile:
    """Validate a parsed profile document (a dict, as from ``tomllib``)."""
    top = Table(data, "", source)
    if top.raw("format", None) != PROFILE_FORMAT:
        raise top.error("format", f"must be {PROFILE_FORMAT!r}")
    version = top.integer("version", 0, 1_000)
    if version != PROFILE_VERSION:
        raise top.error("version", f"{version} is not supported "
                                   f"(this dualcard reads {PROFILE_VERSION})")
    name = top.text("name")
    issuer = top.table("issuer", required=True)
    suite = _suite(issuer)
    result = Profile(
        name=name,
        issuer=issuer.text("name"),
        suite=suite,
        country=int(issuer.digits("country", range(3, 4), "156")),
        currency=int(issuer.digits("currency", range(3, 4), "156")),
        currency_exponent=issuer.integer("currency_exponent", 0, 3, 2),
        isd_key_version=issuer.integer("isd_key_version", 0x01, 0x7F, 0x01),
        keys=_keys(top.table("keys")),
        applications=_applications(top),
        card=_card(top.table("card", required=True)),
        pin=_pin(top.table("pin")),
        magstripe=_magstripe(top.table("magstripe")),
        points=_points(top.table("points")),
    )
    issuer.done()
    top.done()
    _cross_checks(result)
    return result


def _suite(issuer: Table) -> AlgorithmSuite:
    value = issuer.raw("suite", "AES")
    try:
        return suite_named(str(value))
    except UnsupportedAlgorithmError as exc:
        raise issuer.error("suite", str(exc)) from None


def _keys(t: Table) -> KeyReferences:
    defaults = KeyReferences()
    refs = {name: t.text(name, getattr(defaults, name), max_length=64)
            for name in KeyReferences.__dataclass_fields__}
    t.done()
    return KeyReferences(**refs)


def _applications(top: Table) -> tuple[ApplicationSpec, ...]:
    apps: list[ApplicationSpec] = []
    for chip in (1, 2):
        chip_table = top.table(f"chip{chip}")
        for t in chip_table.tables("applications"):
            apps.append(_application(t, chip))
        chip_table.done()
    seen: dict[tuple[int, bytes], str] = {}
    for app in apps:
        key = (app.chip, app.aid)
        if key in seen:
            raise ProfileError(f"chip{app.chip}.applications", f"AID {app.aid.hex().upper()} is "
                               f"used by both {seen[key]} and {app.name}")
        seen[key] = app.name
    if not apps:
        raise ProfileError("chip1.applications", "the profile installs no application")
    return tuple(apps)


_DIRECTORIES = {"pse": payment_aids.PSE_NAME, "ppse": payment_aids.PPSE_NAME}


def _application(t: Table, chip: int) -> ApplicationSpec:
    kind = t.choice("kind", {k.value: k for k in AppKind})
    if _CHIP_OF_KIND[kind] != chip:
        raise t.error("kind", f"a {kind.value} application belongs on chip {_CHIP_OF_KIND[kind]}")
    load_file, module = _DEFAULT_CODE[kind]
    if kind is AppKind.DIRECTORY:
        # a directory is named, not numbered: 1PAY.SYS.DDF01 (contact) or 2PAY.SYS.DDF01
        aid = t.choice("directory", _DIRECTORIES, "pse")
        name = "PSE" if aid == payment_aids.PSE_NAME else "PPSE"
    else:
        aid = t.hex("aid", _AID, PURSE_AID.hex() if kind is AppKind.PURSE else MISSING)
        name = t.text("name", kind.value, max_length=32)
    code = (t.hex("load_file", _AID, load_file.hex()), t.hex("module", _AID, module.hex()))
    spec = ApplicationSpec(
        kind=kind,
        name=name,
        chip=chip,
        aid=aid,
        load_file=code[0],
        module=code[1],
        privileges=t.hex("privileges", range(1, 4), "00"),
        payment=_payment(t) if kind is AppKind.PAYMENT else None,
        # dualcard's own applications mark themselves; other code must say so
        marks_personalized=t.boolean("marks_personalized", code == (load_file, module)),
    )
    t.done()
    return spec


def _payment(t: Table) -> PaymentSettings:
    credit = t.raw("credit_limit", None)
    template_table = t.table("template")
    template: dict[int, bytes] = {}
    for tag_text, value in template_table.items():
        try:
            tag = int(tag_text, 16)
        except ValueError:
            raise template_table.error(tag_text,
                                       "template keys are hex tags, e.g. \"9F08\"") from None
        if not isinstance(value, str):
            raise template_table.error(tag_text, "must be hex text")
        try:
            template[tag] = bytes.fromhex(value.replace(" ", ""))
        except ValueError:
            raise template_table.error(tag_text, "must be hex text") from None
    lower = t.integer("lower_consecutive_offline", 0, 255, 0)
    upper = t.integer("upper_consecutive_offline", lower, 255, max(lower, 5))
    return PaymentSettings(
        label=_label(t),
        priority=t.integer("priority", 1, 15, 1),
        offline_limit=t.integer("offline_limit", 0, _U32, 0),
        credit_limit=None if credit is None else t.integer("credit_limit", 0, _U32),
        lower_consecutive_offline=lower,
        upper_consecutive_offline=upper,
        dki=t.integer("dki", 0, 255, 1),
        arpc_method=t.integer("arpc_method", 1, 2, 2),
        psn=t.digits("psn", range(2, 3)) if t.has("psn") else None,
        template=template,
    )


def _label(t: Table) -> str:
    label = t.text("label", max_length=16)
    if not all(0x20 <= ord(c) < 0x7F for c in label):
        raise t.error("label", "must be printable ASCII (an application label is ans..16)")
    return label


def _card(t: Table) -> CardNumbering:
    id_prefix = t.digits("id_prefix", range(1, 17))
    id_length = t.integer("id_length", 8, 19, 16)
    if len(id_prefix) >= id_length:
        raise t.error("id_prefix", f"must be shorter than id_length ({id_length})")
    pan_range = None
    if t.has("pan_range"):
        r = t.table("pan_range")
        length = r.integer("length", 12, 19, 16)
        prefix = r.digits("prefix", range(1, length - 1))
        pan_range = PANRange(prefix, length, r.integer("first", 0, 10**18, 1))
        if pan_range.first >= pan_range.capacity:
            raise r.error("first", f"is beyond the range ({pan_range.capacity} numbers)")
        r.done()
    card = CardNumbering(
        id_prefix=id_prefix,
        id_length=id_length,
        psn=t.digits("psn", range(2, 3), "01"),
        expiry_months=t.integer("expiry_months", 1, 240, 48),
        pan_range=pan_range,
    )
    t.done()
    return card


def _pin(t: Table) -> PINSettings:
    pin = PINSettings(length=t.integer("length", 4, 12, 4),
                      try_limit=t.integer("try_limit", 1, 15, 3))
    t.done()
    return pin


def _magstripe(t: Table) -> MagstripeSettings:
    settings = MagstripeSettings(
        enabled=t.boolean("enabled", True),
        service_code=t.digits("service_code", range(3, 4), "201"),
        pvki=t.digits("pvki", range(1, 2), "1"),
    )
    t.done()
    return settings


def _purse_amounts(t: Table, key: str, default: int) -> dict[Purse, int]:
    amounts = t.table(key)
    out = {p: amounts.integer(p.label, 0, _U32, default) for p in Purse}
    amounts.done()
    return out


def _points(t: Table) -> PointsSettings:
    settings = PointsSettings(
        max_balance=_purse_amounts(t, "max_balance", 100_000_000),
        initial=_purse_amounts(t, "initial", 0),
        mac_try_limit=t.integer("mac_try_limit", 1, 15, 3),
        key_index=t.integer("key_index", 1, 255, 1),
        key_version=t.integer("key_version", 0, 255, 1),
        pin_for_purchase=t.boolean("pin_for_purchase", False),
    )
    for purse in Purse:
        if settings.initial[purse] > settings.max_balance[purse]:
            raise ProfileError(f"points.initial.{purse.label}",
                               f"{settings.initial[purse]} is above points.max_balance."
                               f"{purse.label} ({settings.max_balance[purse]})")
    t.done()
    return settings


def _cross_checks(profile: Profile) -> None:
    if profile.payment_apps:
        try:
            profile.cvn  # noqa: B018 - raises for a suite without payment cryptograms
        except ProfileError:
            raise ProfileError("issuer.suite", f"{profile.suite.name} has no payment cryptogram "
                               "version: payment applications need AES or TDES") from None
    if profile.magstripe.enabled and not profile.payment_apps:
        raise ProfileError("magstripe.enabled", "a magnetic stripe needs a payment application "
                           "(it carries the PAN)")
