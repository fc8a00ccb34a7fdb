"""The OpenAPI 3.1 description of the HTTP front door, written by hand.

It is written, not generated from the code, so that it says what a shop's developer needs
(what each field means, which errors come back and why) rather than what a framework can
infer. The tests hold it to the routes: every route of the app is described here, and
every path and method described here is a route (``tests/service/test_http_openapi.py``).
Served at ``/v1/openapi.json``.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["openapi_document"]

_HEX = {"type": "string", "pattern": "^([0-9A-Fa-f]{2})+$"}
_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:/@+=-]{0,127}$"}
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with its offset"}
_PURSE = {"type": "string", "enum": ["consumption", "bank", "credit"]}
_POINTS = {"type": "integer", "minimum": 1}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: list[str], properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **more}


def _hex(length: int, what: str) -> dict[str, Any]:
    return {**_HEX, "minLength": 2 * length, "maxLength": 2 * length,
            "description": f"{what} ({length} bytes, hex)"}


_SCHEMAS: dict[str, Any] = {
    "Payment": _object(["payment_id", "holder", "merchant", "amount", "released", "held",
                        "state", "condition"], {
        "payment_id": _ID, "holder": _ID, "merchant": _ID, "amount": _POINTS,
        "released": {"type": "integer"}, "held": {"type": "integer"},
        "state": {"enum": ["held", "released", "voided", "expired"]},
        "condition": {"enum": ["acceptance", "date", "code"]},
        "category": {"type": "string"}, "code_locked": {"type": "boolean"},
        "status": {"enum": ["created", "exists"]}, "moved": {"type": "integer"},
        "repeated": {"type": "boolean"}}),
    "Error": _object(["error"], {"error": _object(["code", "message"], {
        "code": {"type": "string", "description": "unauthenticated, unknown_terminal, bad_mac, "
                 "certificate_mismatch, terminal_blocked, "
                 "stale_timestamp, other_terminal, other_merchant, malformed_json, "
                 "invalid_field, idempotency_key_reused, in_flight, id_reused, not_found, "
                 "batch_rejected, purse_mac, refused, too_large, unavailable, internal"},
        "message": {"type": "string"},
        "field": {"type": "string", "description": "the field at fault, by its path "
                  "(init.mac1, records[3]); body for a body that is not a JSON object"},
        "type": {"type": "string", "description": "the back office's name for a refusal"},
        "batch_id": {"type": "string"},
        "rejections": {"type": "array", "items": _object(["record", "reason"], {
            "record": {"type": "string"}, "reason": {"type": "string"}})},
        "error_id": {"type": "string", "description": "names a 500 in the service's log"},
    })}),
    "LoadInit": _object(
        ["purse", "amount", "terminal_id", "key_index", "balance", "online_seq",
         "key_version", "algorithm_id", "random", "mac1"], {
            "purse": _PURSE, "amount": _POINTS,
            "terminal_id": _hex(6, "the terminal id under MAC1: the authenticated terminal"),
            "key_index": {"type": "integer", "minimum": 0, "maximum": 255},
            "balance": {"type": "integer", "minimum": 0},
            "online_seq": {"type": "integer", "minimum": 0, "maximum": 65535},
            "key_version": {"type": "integer", "minimum": 0, "maximum": 255},
            "algorithm_id": {"type": "integer", "minimum": 0, "maximum": 255},
            "random": _hex(4, "the card's random number"), "mac1": _hex(4, "MAC1")},
        description="INITIALIZE FOR LOAD: what the terminal asked and the card answered"),
    "LoadAuthorization": _object(["card_id", "when", "init", "mac2"], {
        "card_id": _ID, "when": {"type": "string", "description": "the card's local date and "
                                 "time of the load, ISO 8601 without offset"},
        "init": _ref("LoadInit"), "mac2": _hex(4, "MAC2, for CREDIT FOR LOAD")}),
    "CardRecord": {"type": "object", "additionalProperties": True, "required": ["id", "type"],
                   "description": "a card record in the form of dualcard-terminal-batch/1 "
                                  "(payment, load or purchase); docs/backoffice.md"},
    "SaleClaim": _object([], {"payment": _ref("CardRecord"), "authorisation_id": _ID},
                         description="the sale a load rewards: its payment record, or the "
                                     "issuer's approval id of a swiped sale"),
    "Batch": _object(["format", "batch_id", "terminal_id", "records"], {
        "format": {"const": "dualcard-terminal-batch/1"}, "batch_id": _ID,
        "terminal_id": {"type": "string", "pattern": "^[0-9A-F]{12}$",
                        "description": "the authenticated terminal"},
        "records": {"type": "array", "minItems": 1, "items": _ref("CardRecord")}}),
    "EarnQuote": _object(["purse", "points", "issuer_id", "agreement_id"], {
        "purse": _PURSE, "points": _POINTS, "issuer_id": _ID, "agreement_id": _ID}),
    "UploadReceipt": _object(["batch_id", "status", "summary"], {
        "batch_id": _ID, "status": {"enum": ["created", "exists"]},
        "summary": {"type": "object"}}),
    "RedemptionReceipt": _object(["redemption_id", "status", "points", "fen", "target"], {
        "redemption_id": _ID, "status": {"enum": ["created", "exists"]},
        "points": {"type": "integer"}, "fen": {"type": "integer"}, "target": _ID}),
    "StripeDecision": _object(["decision", "arc", "reason"], {
        "decision": {"enum": ["approve", "decline", "referral"]},
        "arc": {"enum": ["00", "01", "05"]}, "reason": {"type": "string"},
        "authorisation_id": {"type": ["string", "null"],
                             "description": "what a load for this sale quotes"}}),
    "HolderCheckResult": _object(["code", "pin", "address", "credit", "reason"], {
        "code": {"type": "string", "description": "the overall answer: 00, 14, 51, 55, 61, "
                 "75, 81, 86 (docs/host.md, the authentication centre)"},
        "pin": {"type": ["string", "null"], "enum": ["00", "14", "55", "75", "81", "86", None]},
        "address": {"type": ["string", "null"], "enum": ["Y", "A", "Z", "N", "U", None]},
        "credit": {"type": ["string", "null"], "enum": ["00", "51", "61", None]},
        "reason": {"type": "string"}}),
    "Balance": _object(["posted", "available"], {"posted": {"type": "integer"},
                                                 "available": {"type": "integer"}}),
}

_HEADERS = [
    {"name": "Dualcard-Terminal", "in": "header", "required": True,
     "schema": {"type": "string", "pattern": "^[0-9A-F]{12}$"}},
    {"name": "Dualcard-Timestamp", "in": "header", "required": True,
     "schema": {"type": "string", "example": "2025-06-18T01:30:00Z"},
     "description": "UTC, whole seconds; within five minutes of the service's clock"},
    {"name": "Idempotency-Key", "in": "header", "required": True,
     "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
     "description": "new for each request, the same for its retries"},
    {"name": "Dualcard-MAC", "in": "header", "required": True,
     "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
     "description": "AES-CMAC over the signing string (docs/host.md)"},
]


def _path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {400: "the body is not a JSON object", 401: "not authenticated (no MAC back)",
               403: "the request speaks for another terminal or merchant",
               404: "no such card or batch", 409: "the idempotency key was used for another "
               "request, or its request is being handled", 413: "the body is too large",
               422: "a field is wrong, or the back office refuses",
               500: "internal error (an error id)",
               503: "the back office database is out of reach"}
    base = (400, 401, 403, 409, 413, 422, 500, 503)
    return {str(s): {"description": meaning[s], **_json(_ref("Error"))}
            for s in sorted({*base, *statuses})}


def _post(name: str, summary: str, body: dict[str, Any], answer: dict[str, Any],
          *extra_errors: int, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"post": {
        "operationId": name, "summary": summary, "parameters": [*_HEADERS, *(parameters or [])],
        "requestBody": {"required": True, **_json(body)},
        "responses": {"200": {"description": "the answer", **_json(answer)},
                      **_errors(*extra_errors)}}}


def _get(name: str, summary: str, parameters: list[dict[str, Any]],
         answer: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"operationId": name, "summary": summary,
                    "parameters": [*_HEADERS, *parameters],
                    "responses": {"200": {"description": "the answer", **_json(answer)},
                                  **_errors(404)}}}


def _unauthenticated(name: str, summary: str, media: str) -> dict[str, Any]:
    return {"get": {"operationId": name, "summary": summary, "security": [],
                    "responses": {"200": {"description": summary,
                                          "content": {media: {"schema": {}}}}}}}


_PATHS: dict[str, Any] = {
    "/v1/earn-quotes": _post(
        "earnQuotes", "The points a purchase earns by the agreements in force",
        _object(["card_id", "purchase_fen", "at"], {
            "card_id": _ID, "purchase_fen": _POINTS, "at": _TIME,
            "method": {"enum": ["debit", "credit", None]},
            "merchant_id": {**_ID, "description": "if given, the terminal's own merchant"}}),
        _object(["quotes"], {"quotes": {"type": "array", "items": _ref("EarnQuote")}}), 404),
    "/v1/cards/{card_id}/purses/{purse}/load-key-index": _get(
        "loadKeyIndex", "The key index INITIALIZE FOR LOAD names for this card's purse",
        [_path_param("card_id", _ID), _path_param("purse", _PURSE)],
        _object(["card_id", "purse", "key_index"], {"card_id": _ID, "purse": _PURSE,
                                                    "key_index": {"type": "integer"}})),
    "/v1/loads": _post(
        "authorizeLoad", "MAC2 for a load that a proven sale of this card earns",
        _object(["card_id", "init", "when"], {"card_id": _ID, "init": _ref("LoadInit"),
                                              "when": _ref("LoadAuthorization/properties/when"),
                                              "sale": _ref("SaleClaim")}),
        _ref("LoadAuthorization"), 404),
    "/v1/loads/confirmations": _post(
        "confirmLoad", "The load's record once the card's TAC verifies",
        _object(["authorization", "tac"], {"authorization": _ref("LoadAuthorization"),
                                           "tac": _hex(4, "the card's TAC")}),
        _object(["record"], {"record": {"type": "object"}})),
    "/v1/redemptions": _post(
        "redeem", "Points the card gave up become money or a premium",
        _object(["redemption_id", "card_id", "purse", "points", "at", "debit"], {
            "redemption_id": _ID, "card_id": _ID, "purse": _PURSE, "points": _POINTS,
            "at": _TIME, "debit": {**_ref("CardRecord"), "description": "the purchase "
                                   "record (points spent) made at this terminal"},
            "insurer_id": _ID, "policy": _ID}),
        _ref("RedemptionReceipt"), 404),
    "/v1/batches": _post(
        "uploadBatch", "Clear a terminal batch (the same batch twice: exists)",
        _ref("Batch"), _ref("UploadReceipt"),
        parameters=[{"name": "at", "in": "query", "required": False, "schema": _TIME,
                     "description": "the upload's time (default: the service's clock)"}]),
    "/v1/scripts/delivered": _post(
        "scriptsDelivered", "The card ran these issuer scripts: do not send them again",
        _object(["script_ids", "at"], {"script_ids": {"type": "array", "items": _ID},
                                       "at": _TIME}),
        _object(["script_ids"], {"script_ids": {"type": "array", "items": _ID}})),
    "/v1/stripe-authorisations": _post(
        "authoriseStripe", "The issuer's decision on a swiped stripe (CVV checked)",
        _object(["track2", "amount"], {"track2": {"type": "string", "example":
                                                  ";6200000000000005=30122010000000000000?"},
                                       "amount": _POINTS, "card_id": _ID}),
        _ref("StripeDecision")),
    "/v1/holder-checks": _post(
        "checkHolder", "The authentication centre: online PIN, delivery address, credit",
        _object(["card_id"], {
            "card_id": _ID,
            "pan": {"type": "string", "pattern": "^[0-9]{12,19}$",
                    "description": "the PAN the terminal read (the PIN block is bound to it)"},
            "pin_block": _hex(8, "ISO 9564-1 format 0 PIN block under the terminal's ZPK"),
            "amount": {"type": "integer", "minimum": 0,
                       "description": "CNY fen, checked against the holder's credit line"},
            "address": _object(["street", "postcode"], {
                "street": {"type": "string"}, "postcode": {"type": "string"},
                "city": {"type": "string"}},
                description="the delivery address an order presents")}),
        _ref("HolderCheckResult")),
    "/v1/reversals": _post(
        "reverseAuthorisation",
        "Undo an authorisation this terminal sent over ISO 8583 (its STAN and DE 7), "
        "releasing its hold once; one not seen is noted, and refused when it comes",
        _object(["stan", "sent_at", "amount"], {
            "stan": {"type": "integer", "minimum": 1, "maximum": 999999}, "sent_at": _TIME,
            "arqc": _HEX, "amount": _POINTS}),
        _object(["stan", "status"], {
            "stan": {"type": "integer"},
            "status": {"enum": ["reversed", "already_reversed", "nothing_to_reverse"]}})),
    "/v1/cards/{card_id}/balances": _get(
        "cardBalances", "The card's points on the ledger (what clearing posted)",
        [_path_param("card_id", _ID)],
        _object(["card_id", "member_id", "balances"], {
            "card_id": _ID, "member_id": _ID, "balances": _object(
                ["consumption", "bank", "credit"],
                {p: _ref("Balance") for p in ("consumption", "bank", "credit")})})),
    "/v1/payments": _post(
        "requestPayment",
        "The merchants' gateway: hold a payment in the holder's virtual account until its "
        "condition (acceptance or a date); refused over the credit line or to an address "
        "not on file",
        _object(["payment_id", "holder_id", "amount", "condition", "address", "expires_at"], {
            "payment_id": _ID, "holder_id": _ID, "amount": _POINTS,
            "condition": {"enum": ["acceptance", "date"]}, "address": {"type": "string"},
            "expires_at": _TIME, "release_at": _TIME,
            "mcc": {"type": "integer", "minimum": 0, "maximum": 9999}}),
        _ref("Payment")),
    "/v1/payments/{payment_id}": _get(
        "paymentStatus", "A payment of this merchant: held, released, voided or expired",
        [_path_param("payment_id", _ID)], _ref("Payment")),
    "/v1/payments/{payment_id}/releases": _post(
        "releasePayment",
        "On delivery: the release code the holder was given (tries counted, then locked)",
        _object(["request_id", "code"], {"request_id": _ID, "code": {"type": "string"},
                                         "amount": _POINTS}),
        _ref("Payment"), 404, parameters=[_path_param("payment_id", _ID)]),
    "/v1/prepaid/payments": _post(
        "payPrepaid",
        "A payment from a prepaid network account of this merchant's program, drawn from its "
        "sub-cards as one card; the account named by its id or by the holder's card (chip 1)",
        _object(["request_id", "amount"], {
            "request_id": _ID, "account": {"type": "string"}, "card_id": _ID,
            "program": _ID, "amount": _POINTS}),
        {"type": "object"}),
    "/v1/batches/{batch_id}": _get(
        "batchStatus", "A batch of this terminal: cleared or rejected",
        [_path_param("batch_id", _ID)],
        _object(["batch_id", "status"], {
            "batch_id": _ID, "status": {"enum": ["cleared", "rejected"]},
            "summary": {"type": "object"},
            "rejections": _ref("Error/properties/error/properties/rejections")})),
    "/health": _unauthenticated("health", "The service and its database answer",
                                "application/json"),
    "/metrics": _unauthenticated("metrics", "Counters in the Prometheus text format",
                                 "text/plain"),
    "/v1/openapi.json": _unauthenticated("openapi", "This description", "application/json"),
}

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "dualcard alliance service host", "version": "1",
             "description": "The back office's link for shops' terminals, computers and "
                            "phones: points, loads, redemptions, batch uploads and queries. "
                            "Authorisations of chip payments travel over ISO 8583 "
                            "(docs/iso8583.md). Every request under /v1 but this document "
                            "is signed with the terminal's MAC key (docs/host.md)."},
    "paths": _PATHS,
    "security": [{"terminalMAC": []}],
    "components": {"schemas": _SCHEMAS, "securitySchemes": {"terminalMAC": {
        "type": "apiKey", "in": "header", "name": "Dualcard-MAC",
        "description": "with Dualcard-Terminal, Dualcard-Timestamp and Idempotency-Key"}}},
}


def openapi_document() -> dict[str, Any]:
    """A copy of the description (callers may change theirs)."""
    return copy.deepcopy(_DOCUMENT)
