"""The transaction slip (F8) and its data extraction (F9).

A :class:`Slip` is the structured record that links the confirmed holder to the
settlement; :func:`render_slip` prints it as fixed-width text (40 columns, what a
receipt printer takes) and :func:`parse_slip` reads a printed slip back into the same
fields. Each field is one line: ``LABEL`` (12 columns) and value (28 columns); a long
note continues on lines with an empty label; points moved on a purse print as
``CONSUMPTION +120 BAL 1320``. The full PAN never appears on a slip.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apdu_specs.errors import LocalError

from .errors import POSError
from .merchant import MerchantIdentity
from .money import format_cny, parse_cny

__all__ = ["WIDTH", "Slip", "SlipPoints", "parse_slip", "render_slip", "slip_from_summary"]

WIDTH = 40
_LABEL = 12
_VALUE = WIDTH - _LABEL
_RULE, _THIN = "=" * WIDTH, "-" * WIDTH
_FOOTER = "KEEP THIS SLIP FOR YOUR RECORDS"
_POINTS = re.compile(r"([+-]\d+) BAL (\d+)")
_PURSES = ("CONSUMPTION", "BANK", "CREDIT")


class SlipFormatError(POSError, LocalError, ValueError):
    """Text that is not a slip this terminal prints."""


@dataclass(frozen=True)
class SlipPoints:
    """One purse's movement on the slip: ``CONSUMPTION +120 BAL 1320``."""

    purse: str  #: CONSUMPTION, BANK or CREDIT
    points: int  #: signed
    balance_after: int


@dataclass(frozen=True)
class Slip:
    merchant_name: str
    merchant_id: str
    terminal_id: str  #: 12 hex digits
    txn_id: str
    when: dt.datetime  #: local wall time, whole seconds
    kind: str  #: SALE, POINTS, CONVERSION, PREMIUM, PREPAID
    result: str  #: APPROVED, DECLINED, REFERRAL, INCOMPLETE, VOIDED, STARTED
    card: str = ""  #: masked PAN or masked card identity
    holder: str = ""
    application: str = ""
    entry: str = ""  #: CHIP or FALLBACK
    amount: int | None = None  #: fen
    arc: str | None = None
    atc: int | None = None
    cryptogram: str | None = None  #: hex
    points: tuple[SlipPoints, ...] = ()
    redeemed: int | None = None  #: fen the redeemed points bought
    chip_error: str | None = None  #: the chip failure behind a fallback
    #: a prepaid payment: the network account paid from and its balance after
    prepaid: str | None = None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def fallback(self) -> bool:
        return self.entry == "FALLBACK"


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, _VALUE, break_long_words=True, break_on_hyphens=False) or [""]


def _line(label: str, value: str) -> list[str]:
    chunks = _wrap(value)
    return [f"{label:<{_LABEL}}{chunks[0]}".rstrip()] + [" " * _LABEL + c for c in chunks[1:]]


def render_slip(slip: Slip) -> str:
    """The slip as printed: 40 columns, one field per line."""
    lines = [_RULE, slip.merchant_name.center(WIDTH).rstrip(), _THIN]
    fields: list[tuple[str, str | None]] = [
        ("MERCHANT", slip.merchant_id), ("TERMINAL", slip.terminal_id), ("TXN", slip.txn_id),
        ("DATE", slip.when.strftime("%Y-%m-%d %H:%M:%S")), ("TYPE", slip.kind),
        ("CARD", slip.card or None), ("HOLDER", slip.holder or None),
        ("APP", slip.application or None), ("ENTRY", slip.entry or None),
        ("AMOUNT", None if slip.amount is None else format_cny(slip.amount)),
        ("RESULT", slip.result), ("ARC", slip.arc),
        ("ATC", None if slip.atc is None else f"{slip.atc:04X}"), ("AC", slip.cryptogram),
    ]
    for label, value in fields:
        if value is not None:
            lines += _line(label, value)
    for movement in slip.points:
        lines += _line(movement.purse, f"{movement.points:+d} BAL {movement.balance_after}")
    if slip.redeemed is not None:
        lines += _line("REDEEMED", format_cny(slip.redeemed))
    if slip.chip_error is not None:
        lines += _line("FALLBACK", slip.chip_error)
    if slip.prepaid is not None:
        lines += _line("PREPAID", slip.prepaid)
    if slip.note:
        lines += _line("NOTE", slip.note)
    lines += [_THIN, _FOOTER.center(WIDTH).rstrip(), _RULE]
    return "\n".join(lines) + "\n"


_TEXT_FIELDS = {"MERCHANT": "merchant_id", "TERMINAL": "terminal_id", "TXN": "txn_id",
                "TYPE": "kind", "CARD": "card", "HOLDER": "holder", "APP": "application",
                "ENTRY": "entry", "RESULT": "result", "ARC": "arc", "AC": "cryptogram",
                "FALLBACK": "chip_error", "PREPAID": "prepaid", "NOTE": "note"}


def parse_slip(text: str) -> Slip:
    """Data extraction (F9): the fields of a printed slip; :class:`SlipFormatError` if the
    text is not one."""
    lines = [line.rstrip() for line in text.splitlines()]
    if len(lines) < 4 or lines[0] != _RULE or lines[2] != _THIN:
        raise SlipFormatError("not a slip: the header rules are missing")
    values: dict[str, Any] = {"merchant_name": lines[1].strip(), "points": []}
    last: str | None = None
    for number, line in enumerate(lines[3:], start=4):
        if line in (_THIN, _RULE) or line.strip() == _FOOTER:
            last = None
            continue
        label, value = line[:_LABEL].strip(), line[_LABEL:]
        if not label and last is not None:
            values[last] = f"{values[last]} {value}"
            continue
        try:
            last = _store(values, label, value)
        except ValueError as exc:
            raise SlipFormatError(f"slip line {number}: {exc}") from None
    try:
        return Slip(**{**values, "points": tuple(values["points"])})
    except TypeError as exc:
        raise SlipFormatError(f"slip lacks a field: {exc}") from None


def _store(values: dict[str, Any], label: str, value: str) -> str | None:
    """Put one line's value in ``values``; the key a continuation line would extend."""
    if label in _TEXT_FIELDS:
        values[_TEXT_FIELDS[label]] = value
        return _TEXT_FIELDS[label]
    if label == "DATE":
        values["when"] = dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    elif label == "AMOUNT":
        values["amount"] = parse_cny(value)
    elif label == "REDEEMED":
        values["redeemed"] = parse_cny(value)
    elif label == "ATC":
        values["atc"] = int(value, 16)
    elif label in _PURSES:
        match = _POINTS.fullmatch(value)
        if match is None:
            raise ValueError(f"points line {value!r}")
        values["points"].append(SlipPoints(label, int(match[1]), int(match[2])))
    else:
        raise ValueError(f"unknown field {label!r}")
    return None


def _prepaid_line(paid: Mapping[str, Any] | None) -> str | None:
    """``ACCOUNT BAL 1,234.56``: the prepaid account paid from, what it holds after."""
    return None if paid is None else f"{paid['account']} BAL {format_cny(paid['balance'])}"


def slip_from_summary(summary: Mapping[str, Any], merchant: MerchantIdentity) -> Slip:
    """The slip of a transaction as the journal (or a result's ``to_dict``) holds it."""
    holder = summary.get("holder") or {}
    when = dt.datetime.fromisoformat(summary["when"]).replace(tzinfo=None, microsecond=0)
    kind = summary["kind"]
    movements = list(summary.get("points") or []) if kind == "sale" else \
        [m for m in [summary.get("movement")] if m]
    redemption = summary.get("redemption")
    return Slip(
        merchant_name=merchant.name, merchant_id=merchant.merchant_id,
        terminal_id=merchant.terminal_hex, txn_id=summary["txn_id"], when=when,
        kind=kind.upper(), result=summary["status"].upper(),
        card=holder.get("masked_pan", ""), holder=holder.get("name", ""),
        application=holder.get("application", ""),
        entry=summary.get("entry", "").upper() if kind == "sale" else "",
        amount=summary.get("amount") if kind in ("sale", "prepaid") else None,
        arc=summary.get("arc"), atc=summary.get("atc"), cryptogram=summary.get("cryptogram"),
        points=tuple(SlipPoints(m["purse"].upper(), m["points"], m["balance_after"])
                     for m in movements),
        redeemed=redemption["fen"] if redemption else None,
        chip_error=summary.get("chip_error"), prepaid=_prepaid_line(summary.get("prepaid")),
        note=summary.get("message", ""),
        extra=dict(summary))
