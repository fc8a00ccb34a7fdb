"""The JSON forms of the link's requests and answers on the HTTP front door, both ways.

One function writes each form and one reads it, for both sides: the service reads what
the terminal's :class:`~host.pos.network_link.NetworkLink` wrote with the same module, and
the link reads the service's answers the same way. Card records travel in the batch's own
JSON form (:func:`host.records.batch.record_to_dict` / :func:`parse_record`); binary
fields are hex; times are ISO 8601 (``at`` fields with their offset; a load's ``when`` is
the card's local time, as the card saw it, so it carries none).

Reading never trusts the shape: :class:`Fields` names the field that is missing or wrong
(``init.mac1``, ``sale.payment``) in a :class:`JSONFieldError`, which the service answers
422. This module imports no back office: the terminal's link uses it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from apdu_specs.commands.purse_data import Purse
from apdu_specs.documents import DocumentError
from apdu_specs.errors import DualcardError, RemoteError
from apdu_specs.magstripe.tracks import Track2
from host.payment.issuer import Decision
from host.points.load_host import LoadAuthorization
from host.points.messages import LoadInit
from host.pos.link import (
    EarnQuote,
    PaymentMethod,
    RedemptionReceipt,
    StripeDecision,
    UploadReceipt,
)
from host.records.batch import PaymentRecord, PurseRecord, Record, SaleClaim, parse_record
from host.records.batch import record_to_dict as record_to_dict
from host.records.errors import InvalidRecordError, ValidationError
from host.records.ids import check_id

from .errors import ServiceError

__all__ = [
    "Fields",
    "JSONFieldError",
    "authorization_of",
    "authorization_to_json",
    "batch_field",
    "debit_of",
    "json_body",
    "load_init_of",
    "load_init_to_json",
    "method_of",
    "quote_of",
    "quote_to_json",
    "record_of",
    "redemption_of",
    "redemption_to_json",
    "sale_of",
    "sale_to_json",
    "strings_of",
    "stripe_decision_of",
    "stripe_decision_to_json",
    "track2_of",
    "upload_receipt_of",
    "upload_receipt_to_json",
]

_PURSES = {purse.label: purse for purse in Purse}
_RECORD_AT = re.compile(r"record #(\d+): ")
_UINT32 = 0xFFFFFFFF


class JSONFieldError(ServiceError, RemoteError, ValueError):
    """A JSON document (a request, or an answer) whose ``field`` is missing or wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class Fields:
    """Typed access to a JSON object's fields; errors name the field by its path."""

    def __init__(self, doc: object, path: str = "") -> None:
        if not isinstance(doc, Mapping):
            raise JSONFieldError(path or "body", "must be a JSON object")
        self.doc: Mapping[str, Any] = doc
        self.path = path

    def name(self, field: str) -> str:
        return f"{self.path}.{field}" if self.path else field

    def fail(self, field: str, message: str) -> JSONFieldError:
        return JSONFieldError(self.name(field), message)

    def get(self, field: str) -> Any:
        if self.doc.get(field) is None:
            raise self.fail(field, "is missing")
        return self.doc[field]

    def has(self, field: str) -> bool:
        return self.doc.get(field) is not None

    def text(self, field: str) -> str:
        value = self.get(field)
        if not isinstance(value, str):
            raise self.fail(field, "must be a string")
        return value

    def ident(self, field: str) -> str:
        try:
            return check_id(self.get(field), field)
        except ValidationError as exc:
            raise self.fail(field, str(exc)) from None

    def optional_ident(self, field: str) -> str | None:
        return self.ident(field) if self.has(field) else None

    def integer(self, field: str, low: int = 0, high: int = _UINT32) -> int:
        value = self.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(field, f"must be an integer in {low}..{high}")
        return value

    def hexbytes(self, field: str, length: int) -> bytes:
        try:
            value = bytes.fromhex(self.text(field))
        except ValueError:
            raise self.fail(field, "must be hex digits") from None
        if len(value) != length:
            raise self.fail(field, f"must be {length} bytes")
        return value

    def purse(self, field: str) -> Purse:
        value = _PURSES.get(self.text(field))
        if value is None:
            raise self.fail(field, f"must be one of {sorted(_PURSES)}")
        return value

    def time(self, field: str, *, aware: bool) -> dt.datetime:
        """An ISO 8601 date and time; with its offset if ``aware``."""
        try:
            value = dt.datetime.fromisoformat(self.text(field))
        except ValueError:
            raise self.fail(field, "must be an ISO 8601 date and time") from None
        if aware and value.tzinfo is None:
            raise self.fail(field, "must carry its UTC offset")
        return value

    def obj(self, field: str) -> Fields:
        return Fields(self.get(field), self.name(field))

    def items(self, field: str) -> list[Any]:
        value = self.get(field)
        if not isinstance(value, list):
            raise self.fail(field, "must be a list")
        return value


def json_body(data: bytes, source: str = "body") -> dict[str, Any]:
    """A request's (or an answer's) JSON object; :class:`DocumentError` says why not.

    The bytes are at most the door's limit (32 MiB) and the C decoder refuses nesting
    deeper than the interpreter's recursion limit with a :class:`RecursionError`, so the
    decoder needs no bracket count of its own beforehand (:func:`apdu_specs.documents.
    parse_json` counts them, at three times the cost of decoding a batch)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DocumentError(source, f"not UTF-8: byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(source, f"not JSON: {exc.msg} (line {exc.lineno}, column "
                                    f"{exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # an integer of more than 4300 digits
        raise DocumentError(source, f"not usable JSON: {type(exc).__name__}") from None
    if not isinstance(value, dict):
        raise DocumentError(source, "must be a JSON object")
    return value


def _time(when: dt.datetime) -> str:
    return when.isoformat()


# -- loads -----------------------------------------------------------------------------------


def load_init_to_json(init: LoadInit) -> dict[str, Any]:
    return {"purse": init.purse.label, "amount": init.amount,
            "terminal_id": init.terminal_id.hex().upper(), "key_index": init.key_index,
            "balance": init.balance, "online_seq": init.online_seq,
            "key_version": init.key_version, "algorithm_id": init.algorithm_id,
            "random": init.random.hex().upper(), "mac1": init.mac1.hex().upper()}


def load_init_of(f: Fields) -> LoadInit:
    return LoadInit(f.purse("purse"), f.integer("amount", 1), f.hexbytes("terminal_id", 6),
                    f.integer("key_index", 0, 0xFF), f.integer("balance"),
                    f.integer("online_seq", 0, 0xFFFF), f.integer("key_version", 0, 0xFF),
                    f.integer("algorithm_id", 0, 0xFF), f.hexbytes("random", 4),
                    f.hexbytes("mac1", 4))


def authorization_to_json(authorization: LoadAuthorization) -> dict[str, Any]:
    return {"card_id": authorization.card_identity, "when": _time(authorization.when),
            "init": load_init_to_json(authorization.init),
            "mac2": authorization.mac2.hex().upper()}


def authorization_of(f: Fields) -> LoadAuthorization:
    return LoadAuthorization(f.ident("card_id"), load_init_of(f.obj("init")),
                             f.time("when", aware=False), f.hexbytes("mac2", 4))


def sale_to_json(sale: SaleClaim) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sale.payment is not None:
        out["payment"] = record_to_dict(sale.payment)
    if sale.authorisation_id is not None:
        out["authorisation_id"] = sale.authorisation_id
    return out


def sale_of(f: Fields, terminal_id: str) -> SaleClaim:
    """The sale a load claims: a payment record, or a stripe approval id, or neither."""
    payment = record_of(f, "payment", terminal_id) if f.has("payment") else None
    if payment is not None and not isinstance(payment, PaymentRecord):
        raise f.fail("payment", "must be a payment record")
    return SaleClaim(payment, f.optional_ident("authorisation_id"))


def record_of(f: Fields, field: str, terminal_id: str) -> Record:
    """A card record made at ``terminal_id``, in the batch's JSON form."""
    try:
        return parse_record(f.get(field), terminal_id)
    except InvalidRecordError as exc:
        raise f.fail(field, str(exc).removeprefix("record: ")) from None


def debit_of(f: Fields, field: str, terminal_id: str) -> PurseRecord:
    record = record_of(f, field, terminal_id)
    if not isinstance(record, PurseRecord) or record.kind != "purchase":
        raise f.fail(field, "must be a purchase record (points spent)")
    return record


def batch_field(error: InvalidRecordError) -> JSONFieldError:
    """A batch's parse error, naming the record (``records[3]``) when it is one."""
    message = str(error)
    at = _RECORD_AT.match(message)
    if at is None:
        return JSONFieldError("batch", message)
    return JSONFieldError(f"records[{at.group(1)}]", message[at.end():])


# -- answers ---------------------------------------------------------------------------------


def quote_to_json(quote: EarnQuote) -> dict[str, Any]:
    return {"purse": quote.purse.label, "points": quote.points, "issuer_id": quote.issuer_id,
            "agreement_id": quote.agreement_id}


def quote_of(f: Fields) -> EarnQuote:
    return EarnQuote(f.purse("purse"), f.integer("points", 1, 2**48), f.ident("issuer_id"),
                     f.ident("agreement_id"))


def method_of(f: Fields, field: str) -> PaymentMethod | None:
    if not f.has(field):
        return None
    try:
        return PaymentMethod(f.text(field))
    except ValueError:
        raise f.fail(field, "must be 'debit', 'credit' or null") from None


def redemption_to_json(receipt: RedemptionReceipt) -> dict[str, Any]:
    return {"redemption_id": receipt.redemption_id, "status": receipt.status,
            "points": receipt.points, "fen": receipt.fen, "target": receipt.target}


def redemption_of(f: Fields) -> RedemptionReceipt:
    return RedemptionReceipt(f.ident("redemption_id"), f.text("status"),
                             f.integer("points", 0, 2**48), f.integer("fen", 0, 2**48),
                             f.ident("target"))


def upload_receipt_to_json(receipt: UploadReceipt) -> dict[str, Any]:
    return {"batch_id": receipt.batch_id, "status": receipt.status,
            "summary": dict(receipt.summary)}


def upload_receipt_of(f: Fields) -> UploadReceipt:
    summary = f.get("summary")
    if not isinstance(summary, Mapping):
        raise f.fail("summary", "must be a JSON object")
    return UploadReceipt(f.ident("batch_id"), f.text("status"), dict(summary))


def stripe_decision_to_json(decision: StripeDecision) -> dict[str, Any]:
    return {"decision": decision.decision.value, "arc": decision.decision.arc.decode("ascii"),
            "reason": decision.reason, "authorisation_id": decision.authorisation_id}


def stripe_decision_of(f: Fields) -> StripeDecision:
    try:
        decision = Decision(f.text("decision"))
    except ValueError:
        raise f.fail("decision", "must be approve, decline or referral") from None
    reason = f.text("reason") if f.has("reason") else ""
    return StripeDecision(decision, reason, f.optional_ident("authorisation_id"))


def track2_of(f: Fields, field: str) -> Track2:
    try:
        return Track2.decode(f.text(field), check_luhn=False)
    except (ValueError, DualcardError) as exc:
        raise f.fail(field, f"is not track 2: {exc}") from None


def strings_of(f: Fields, field: str) -> Sequence[str]:
    values = f.items(field)
    for index, value in enumerate(values):
        try:
            check_id(value, field)
        except ValidationError:
            raise f.fail(f"{field}[{index}]", "must be an id") from None
    return values
