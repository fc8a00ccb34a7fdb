"""The authentication centre's requests on both front doors (docs/iso8583.md, docs/host.md).

ISO 8583: an 0100 with processing code ``300000`` (available funds inquiry) is a holder
check, not a payment: nothing is authorised, held or posted. Its fields:

- DE 2 the PAN the terminal read, DE 62 the card identity (required);
- DE 52 the PIN block (ISO 9564-1 format 0 under the terminal's ZPK): the PIN check;
- DE 4 / DE 49 the amount in CNY (156): the credit check (absent or zero: none);
- DE 123 the delivery address an order presents, ``postcode|street``: the address check.

The 0110 answers DE 39 the overall code and DE 44 each check done, as ``PIN=00``,
``AVS=Y`` and ``CREDIT=51`` joined by ``;`` (at most 22 characters). A holder check is not
repeated as an 0101 (answered 12): a terminal that lost an answer sends a new request,
and a wrong PIN it carried stays counted.

HTTP: ``POST /v1/holder-checks`` with ``card_id``, ``pan``, ``pin_block`` (16 hex digits),
``amount`` and ``address`` (``street``, ``postcode``, optionally ``city``); the answer is
``code``, ``pin``, ``address``, ``credit`` (each null when not checked) and ``reason``.
"""

from __future__ import annotations

from typing import Any

from host.backoffice.addresses import DeliveryAddress
from host.backoffice.errors import ValidationError

from . import api
from .api import Fields
from .auth_centre import AuthenticationCentre, HolderCheck, HolderCheckResult
from .errors import MessageFormatError
from .iso8583 import Message, required
from .messages import UnsupportedRequestError, answer

__all__ = ["HOLDER_CHECK_CODE", "check_holder_http", "holder_check_answer", "holder_check_of",
           "holder_check_request", "is_holder_check", "refuse_repeat", "results_of"]

#: DE 3 of a holder check: available funds inquiry (30), no account type
HOLDER_CHECK_CODE = "300000"
_CNY = "156"
_ADDRESS_SEPARATOR = "|"


def is_holder_check(message: Message) -> bool:
    return message.get("3") == HOLDER_CHECK_CODE


# -- ISO 8583 ---------------------------------------------------------------------------------


def holder_check_of(message: Message) -> HolderCheck:
    """The check an 0100 asks for; :class:`MessageFormatError` names a field that is wrong."""
    amount = int(message.get("4", "0"))
    if amount and message.get("49") != _CNY:
        raise MessageFormatError("DE 49 must be 156 (CNY, the credit line's currency) "
                                 "with an amount")
    address = _address_of(message["123"]) if "123" in message else None
    return HolderCheck(required(message, "62"), required(message, "2"), message.get("52"),
                       amount or None, address)


def _address_of(value: str) -> DeliveryAddress:
    postcode, separator, street = value.partition(_ADDRESS_SEPARATOR)
    if not separator:
        raise MessageFormatError("DE 123 (Address verification data) must be postcode|street")
    try:
        return DeliveryAddress(street, postcode)
    except ValidationError as exc:
        raise MessageFormatError(f"DE 123 (Address verification data): {exc}") from None


def holder_check_request(check: HolderCheck, envelope_fields: dict[str, str]) -> Message:
    """The 0100 of ``check`` (the terminal's side; ``envelope_fields``: DE 7, 11, 41, 42)."""
    message: Message = {"t": "0100", "2": check.pan, "3": HOLDER_CHECK_CODE,
                        "62": check.card_id, **envelope_fields}
    if check.pin_block is not None:
        message["52"] = check.pin_block
    if check.amount:
        message.update({"4": f"{check.amount:012d}", "49": _CNY})
    if check.address is not None:
        message["123"] = f"{check.address.postcode}{_ADDRESS_SEPARATOR}{check.address.street}"
    return message


def holder_check_answer(request: Message, result: HolderCheckResult) -> Message:
    """The 0110: DE 39 the overall code, DE 44 each check's."""
    reply = answer(request, result.code)
    parts = [f"{name}={value}" for name, value in (
        ("PIN", result.pin), ("AVS", result.address), ("CREDIT", result.credit))
        if value is not None]
    if parts:
        reply["44"] = ";".join(parts)
    return reply


def results_of(reply: Message) -> dict[str, str]:
    """DE 44 of an 0110 as ``{"PIN": "55", ...}`` (the terminal's side)."""
    pairs = (part.partition("=") for part in reply.get("44", "").split(";") if part)
    return {name: value for name, _, value in pairs}


def refuse_repeat() -> UnsupportedRequestError:
    return UnsupportedRequestError("a holder check is not repeated: send a new request")


# -- HTTP -------------------------------------------------------------------------------------


def check_holder_http(centre: AuthenticationCentre, terminal_id: str,
                      body: bytes) -> dict[str, Any]:
    """``POST /v1/holder-checks``: the JSON answer to a JSON request."""
    f = Fields(api.json_body(body))
    check = HolderCheck(
        f.ident("card_id"), _pan(f) if f.has("pan") else "",
        f.hexbytes("pin_block", 8) if f.has("pin_block") else None,
        f.integer("amount", 0, 2**48) if f.has("amount") else None,
        _json_address(f.obj("address")) if f.has("address") else None)
    if check.pin_block is not None and not check.pan:
        raise f.fail("pan", "is needed with a pin_block (the block is bound to it)")
    result = centre.check(check, terminal_id)
    return {"code": result.code.value,
            "pin": None if result.pin is None else result.pin.value,
            "address": None if result.address is None else result.address.value,
            "credit": None if result.credit is None else result.credit.value,
            "reason": result.reason}


def _pan(f: Fields) -> str:
    pan = f.text("pan")
    if not (pan.isascii() and pan.isdigit() and 12 <= len(pan) <= 19):
        raise f.fail("pan", "must be 12 to 19 digits")
    return pan


def _json_address(f: Fields) -> DeliveryAddress:
    try:
        return DeliveryAddress(f.text("street"), f.text("postcode"),
                               f.text("city") if f.has("city") else "")
    except ValidationError as exc:
        raise f.fail("street", str(exc)) from None

