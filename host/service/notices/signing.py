"""Signed webhooks: how the dispatcher signs a notice it posts to a merchant, and how the
merchant checks it (:func:`verify_webhook`, the receiver's side).

A webhook is a POST of the notice as JSON with three headers: ``Dualcard-Notice-Id``
(the notice's id, the same on every retry: the receiver's idempotency key),
``Dualcard-Notice-Timestamp`` (Unix seconds when this attempt was signed) and
``Dualcard-Notice-Signature``: ``v1=`` and the lower-case hex HMAC-SHA256, under the
merchant's webhook secret, of the timestamp, a dot and the body's bytes. Signing the
timestamp with the body lets the receiver refuse a copy replayed later than its
tolerance; the id lets it drop a retry it already acted on. Several ``v1=`` values
separated by commas are accepted, so a secret can be rotated. (The names differ from the
HTTP door's ``Dualcard-Timestamp``, which terminals send in RFC 3339.)

Only the standard library is used here, so a merchant's receiver needs nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from apdu_specs.errors import RemoteError
from host.service.errors import ServiceError

__all__ = ["NOTICE_ID_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "TOLERANCE_S",
           "WebhookSignatureError", "sign", "signed_headers", "verify_webhook"]

NOTICE_ID_HEADER = "Dualcard-Notice-Id"
TIMESTAMP_HEADER = "Dualcard-Notice-Timestamp"
SIGNATURE_HEADER = "Dualcard-Notice-Signature"
#: how far a webhook's timestamp may be from the receiver's clock, in seconds
TOLERANCE_S = 300


class WebhookSignatureError(ServiceError, RemoteError, ValueError):
    """A webhook the receiver must not believe: a header missing, a timestamp outside the
    tolerance, no signature made with the secret, or a body that is not the notice named."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``v1=`` and HMAC-SHA256(secret, timestamp "." body)."""
    return "v1=" + hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def signed_headers(secret: bytes, notice_id: str, body: bytes, *, now: int) -> dict[str, str]:
    """The headers of one attempt to post ``body``, signed at ``now`` (Unix seconds)."""
    return {"Content-Type": "application/json", NOTICE_ID_HEADER: notice_id,
            TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(secret, now, body)}


def verify_webhook(secret: bytes, headers: Mapping[str, str], body: bytes, *,
                   now: float | None = None, tolerance: int = TOLERANCE_S) -> dict[str, Any]:
    """The notice a webhook carries, once its signature and timestamp check out.

    ``headers`` as received (any case), ``body`` the raw bytes, before any JSON parsing.
    Raises :class:`WebhookSignatureError` naming what failed. The receiver then keeps the
    notice's ``id`` and ignores a notice whose id it has already acted on."""
    found = {k.lower(): v for k, v in headers.items()}
    notice_id, stamp, given = (found.get(h.lower()) for h in
                               (NOTICE_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    if not notice_id or not stamp or not given:
        raise WebhookSignatureError("a webhook header is missing (notice id, timestamp or "
                                    "signature)")
    if not stamp.isdigit():
        raise WebhookSignatureError(f"the webhook timestamp {stamp!r} is not Unix seconds")
    clock = time.time() if now is None else now
    if abs(clock - int(stamp)) > tolerance:
        raise WebhookSignatureError(f"the webhook timestamp is more than {tolerance} s off")
    expected = sign(secret, int(stamp), body)
    if not any(hmac.compare_digest(expected, v.strip()) for v in given.split(",")):
        raise WebhookSignatureError("no webhook signature made with this secret")
    notice: dict[str, Any] = json.loads(body)
    if notice.get("id") != notice_id:
        raise WebhookSignatureError("the webhook body is not the notice its header names")
    return notice
