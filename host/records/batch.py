"""A terminal's batch of card transactions (F18, F19) as the back office receives it.

Three kinds of record:

* ``load`` — chip 2 credited points (PBOC CREDIT FOR LOAD, transaction type 02); the card's TAC
  covers the balance after, the online sequence number, the amount, the type, the terminal id
  and the date and time. The record names the sale it rewards: a ``payment`` record of the
  same batch, or the issuer's approval id of a swiped sale (``authorisation``); the back
  office recomputes the points from that sale's proven amount by agreement.
* ``purchase`` — chip 2 debited points (DEBIT FOR PURCHASE, type 06); the TAC covers the
  amount, the type, the terminal id, the terminal's transaction sequence and the date and
  time — not the card's offline sequence nor the balance after, which are kept as claimed.
* ``payment`` — chip 1 paid a purchase; its first application cryptogram (ARQC, or a TC the
  card gave offline) covers the CDOL1 data (amount first), the AIP, the ATC and the IAD; after
  an ARQC the final cryptogram (TC or AAC) covers CDOL1 and CDOL2 data, AIP, ATC and its IAD.

Which field each proof covers, and what the back office does with the rest: docs/trust.md.

The JSON form (``dualcard-terminal-batch/1``) carries binary fields as hex; inside, they are
bytes. Each card transaction has a key (``txn_key``) that the card's own MAC binds, so the
same card transaction presented twice, in any batch, is caught.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from host.records.assets import Asset, check_amount
from host.records.errors import InvalidRecordError, ValidationError
from host.records.ids import check_id, check_terminal_id

__all__ = [
    "BATCH_FORMAT",
    "PaymentRecord",
    "PurseRecord",
    "Record",
    "SaleClaim",
    "TerminalBatch",
    "parse_batch",
    "parse_record",
    "record_to_dict",
]

BATCH_FORMAT = "dualcard-terminal-batch/1"
#: PBOC transaction type identifiers (domain facts §5.5).
TXN_TYPE_LOAD = 0x02
TXN_TYPE_PURCHASE = 0x06
_DATE = re.compile(r"\d{8}")
_TIME = re.compile(r"\d{6}")
_PURSES = (Asset.CONSUMPTION_POINTS, Asset.BANK_POINTS, Asset.CREDIT_POINTS)


@dataclass(frozen=True, slots=True)
class PurseRecord:
    """A chip-2 points movement with its TAC."""

    record_id: str
    kind: str  # "load" or "purchase"
    card_id: str
    purse: Asset
    amount: int
    terminal_id: bytes
    card_seq: int  # online sequence (load) / offline sequence (purchase), before increment
    date: str  # YYYYMMDD
    time: str  # hhmmss
    tac: bytes
    balance_after: int | None = None  # load
    terminal_seq: int | None = None  # purchase
    purchase_fen: int | None = None  # load: the sale's amount, as the terminal says it
    payment_ref: str | None = None  # load: the payment record in the same batch
    issuer_id: str | None = None  # load of bank/credit points: the bank that awards them
    authorisation_ref: str | None = None  # load: the issuer's approval id of a swiped sale

    @property
    def txn_type(self) -> int:
        return TXN_TYPE_LOAD if self.kind == "load" else TXN_TYPE_PURCHASE

    @property
    def txn_key(self) -> str:
        """What makes this card transaction unique for the card, bound by its TAC."""
        # ``_value_`` is the member's own attribute: ``.value`` (a descriptor) costs three
        # times as much, and clearing reads the purse name several times per record.
        if self.kind == "load":
            return f"load:{self.purse._value_}:{self.card_seq}"
        return (f"purchase:{self.purse._value_}:{self.terminal_id.hex().upper()}:"
                f"{self.terminal_seq}")

    def canonical(self) -> tuple[Any, ...]:
        return (
            self.record_id, self.kind, self.card_id, self.purse._value_, self.amount,
            self.terminal_id, self.card_seq, self.date, self.time, self.tac, self.balance_after,
            self.terminal_seq, self.purchase_fen, self.payment_ref, self.issuer_id,
            self.authorisation_ref,
        )

    def claimed(self) -> dict[str, int]:
        """Fields of this record no MAC covers (the purchase TAC leaves out the card's offline
        sequence and the balance after): kept as the terminal said them, never acted on."""
        if self.kind == "load":
            return {}
        out = {"card_seq": self.card_seq}
        if self.balance_after is not None:
            out["balance_after"] = self.balance_after
        return out


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """A chip-1 payment with its application cryptogram."""

    record_id: str
    card_id: str
    application: str  # "debit" or "credit"
    amount_fen: int
    atc: int
    arqc: bytes
    cdol1: bytes
    aip: bytes
    date: str
    time: str
    #: issuer application data (9F10): the cryptogram covers CDOL1 data ‖ AIP ‖ ATC ‖ IAD
    iad: bytes = b""
    #: the final cryptogram after an ARQC (second GENERATE AC: TC or AAC), the CDOL2 data
    #: and the IAD it covers; empty when the card decided at the first GENERATE AC
    final_ac: bytes = b""
    cdol2: bytes = b""
    final_iad: bytes = b""

    kind = "payment"

    @property
    def txn_key(self) -> str:
        return f"payment:{self.application}:{self.atc}"

    def canonical(self) -> tuple[Any, ...]:
        return (
            self.record_id, "payment", self.card_id, self.application, self.amount_fen,
            self.atc, self.arqc, self.cdol1, self.aip, self.date, self.time, self.iad,
            self.final_ac, self.cdol2, self.final_iad,
        )


Record = PurseRecord | PaymentRecord


@dataclass(frozen=True, slots=True)
class SaleClaim:
    """The sale a load asks to reward, as a terminal presents it to the load authoriser: a
    chip payment record (its cryptograms prove it) or the issuer's approval id of a swiped
    sale (the issuer's own record proves it). Nothing else earns points."""

    payment: PaymentRecord | None = None
    authorisation_id: str | None = None


@dataclass(frozen=True)
class TerminalBatch:
    """One upload from one terminal; ``batch_id`` is the terminal's idempotency key."""

    batch_id: str
    terminal_id: str
    records: tuple[Record, ...]

    @cached_property
    def digest(self) -> bytes:
        """SHA-256 over the canonical content: equal batches have equal digests."""
        h = hashlib.sha256(f"{BATCH_FORMAT}|{self.batch_id}|{self.terminal_id}".encode())
        for record in self.records:
            h.update(repr(record.canonical()).encode())
        return h.digest()

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": BATCH_FORMAT,
            "batch_id": self.batch_id,
            "terminal_id": self.terminal_id,
            "records": [record_to_dict(r) for r in self.records],
        }


def record_to_dict(record: Record) -> dict[str, Any]:
    """The JSON form of a record (hex for bytes, optional fields left out when empty)."""
    if isinstance(record, PaymentRecord):
        return {
            "id": record.record_id, "type": "payment", "card_id": record.card_id,
            "application": record.application, "amount_fen": record.amount_fen,
            "atc": record.atc, "arqc": record.arqc.hex().upper(),
            "cdol1": record.cdol1.hex().upper(), "aip": record.aip.hex().upper(),
            "date": record.date, "time": record.time,
            **{name: value.hex().upper() for name, value in (
                ("iad", record.iad), ("final_ac", record.final_ac), ("cdol2", record.cdol2),
                ("final_iad", record.final_iad)) if value},
        }
    out: dict[str, Any] = {
        "id": record.record_id, "type": record.kind, "card_id": record.card_id,
        "purse": record.purse.value, "amount": record.amount, "card_seq": record.card_seq,
        "date": record.date, "time": record.time, "tac": record.tac.hex().upper(),
    }
    optional = {
        "balance_after": record.balance_after, "terminal_seq": record.terminal_seq,
        "purchase_fen": record.purchase_fen, "payment": record.payment_ref,
        "issuer": record.issuer_id, "authorisation": record.authorisation_ref,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def parse_batch(data: object) -> TerminalBatch:
    """A :class:`TerminalBatch` from its JSON form; :class:`InvalidRecordError` names the
    first problem (with the record's position)."""
    if not isinstance(data, Mapping):
        raise InvalidRecordError("a batch must be a JSON object")
    if data.get("format") != BATCH_FORMAT:
        raise InvalidRecordError(f"batch format must be {BATCH_FORMAT!r}")
    try:
        batch_id = check_id(data.get("batch_id"), "batch_id")
        terminal_id = check_terminal_id(data.get("terminal_id"))
    except ValidationError as exc:
        raise InvalidRecordError(str(exc)) from None
    raw = data.get("records")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise InvalidRecordError("a batch needs a non-empty list of records")
    records: list[Record] = []
    seen: set[str] = set()
    terminal = bytes.fromhex(terminal_id)
    for index, item in enumerate(raw):
        try:
            record = _parse_record(item, terminal)
        except ValidationError as exc:
            raise InvalidRecordError(f"record #{index}: {exc}") from None
        if record.record_id in seen:
            raise InvalidRecordError(f"record #{index}: duplicate id {record.record_id!r}")
        seen.add(record.record_id)
        records.append(record)
    return TerminalBatch(batch_id, terminal_id, tuple(records))


def parse_record(item: object, terminal_id: str) -> Record:
    """One record from its JSON form (:func:`record_to_dict`), made at ``terminal_id``;
    :class:`InvalidRecordError` names the problem."""
    try:
        return _parse_record(item, bytes.fromhex(check_terminal_id(terminal_id)))
    except ValidationError as exc:
        raise InvalidRecordError(f"record: {exc}") from None


def _parse_record(item: object, terminal: bytes) -> Record:
    if not isinstance(item, Mapping):
        raise ValidationError("a record must be a JSON object")
    f = _Fields(item)
    record_id = f.ident("id")
    kind = f.text("type")
    card_id = f.ident("card_id")
    if kind == "payment":
        application = f.text("application")
        if application not in ("debit", "credit"):
            raise ValidationError("application must be 'debit' or 'credit'")
        return PaymentRecord(
            record_id, card_id, application, check_amount(f.get("amount_fen"), what="amount_fen"),
            f.uint("atc", 0xFFFF), f.hexbytes("arqc", 8), f.hexbytes("cdol1"),
            f.hexbytes("aip", 2), f.date(), f.time(),
            f.optional_hexbytes("iad"), f.optional_hexbytes("final_ac"),
            f.optional_hexbytes("cdol2"), f.optional_hexbytes("final_iad"),
        )
    if kind not in ("load", "purchase"):
        raise ValidationError(f"unknown record type {kind!r}")
    purse_name = f.text("purse")
    purse = next((p for p in _PURSES if p.value == purse_name), None)
    if purse is None:
        raise ValidationError(f"purse must be one of {[p.value for p in _PURSES]}")
    common: dict[str, Any] = dict(
        record_id=record_id, kind=kind, card_id=card_id, purse=purse,
        amount=check_amount(f.get("amount"), what="amount"), terminal_id=terminal,
        card_seq=f.uint("card_seq", 0xFFFF), date=f.date(), time=f.time(),
        tac=f.hexbytes("tac", 4),
    )
    if kind == "load":
        purchase_fen = f.get("purchase_fen")
        return PurseRecord(
            **common,
            balance_after=f.uint("balance_after", 0xFFFFFFFF),
            purchase_fen=check_amount(purchase_fen, what="purchase_fen"),
            payment_ref=f.optional_ident("payment"),
            issuer_id=f.optional_ident("issuer"),
            authorisation_ref=f.optional_ident("authorisation"),
        )
    return PurseRecord(**common, terminal_seq=f.uint("terminal_seq", 0xFFFFFFFF))


class _Fields:
    """Typed access to one record's JSON fields, with errors naming the field."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        self._item = item

    def get(self, name: str) -> Any:
        if name not in self._item:
            raise ValidationError(f"missing field {name!r}")
        return self._item[name]

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str):
            raise ValidationError(f"{name} must be a string")
        return value

    def ident(self, name: str) -> str:
        return check_id(self.get(name), name)

    def optional_ident(self, name: str) -> str | None:
        value = self._item.get(name)
        return None if value is None else check_id(value, name)

    def uint(self, name: str, maximum: int) -> int:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            raise ValidationError(f"{name} must be an integer in 0..{maximum}")
        return value

    def hexbytes(self, name: str, length: int | None = None) -> bytes:
        value = self.text(name).replace(" ", "")
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise ValidationError(f"{name} must be hex") from None
        if length is not None and len(raw) != length:
            raise ValidationError(f"{name} must be {length} bytes")
        if not raw:
            raise ValidationError(f"{name} must not be empty")
        return raw

    def optional_hexbytes(self, name: str) -> bytes:
        return b"" if self._item.get(name) is None else self.hexbytes(name)

    def date(self) -> str:
        value = self.text("date")
        if not _DATE.fullmatch(value):
            raise ValidationError("date must be YYYYMMDD")
        return value

    def time(self) -> str:
        value = self.text("time")
        if not _TIME.fullmatch(value):
            raise ValidationError("time must be hhmmss")
        return value
