"""The webhook signature as a merchant's receiver checks it, and the dispatcher's
decisions without I/O: what an answer means, how long to wait, when to give up."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.service.notices.policy import (
    Dead,
    Outcome,
    Retry,
    RetryPolicy,
    channels_for,
    http_outcome,
    webhook_body,
)
from host.service.notices.signing import (
    SIGNATURE_HEADER,
    WebhookSignatureError,
    sign,
    signed_headers,
    verify_webhook,
)

SECRET = b"whsec-test-0123456789abcdef"
NOW = 1_750_000_000
BODY = json.dumps(webhook_body(7, "TEA", "settlement",
                               dt.datetime(2025, 6, 18, tzinfo=dt.UTC), {"net": 12})).encode()


def test_a_signed_webhook_verifies_whatever_the_header_case() -> None:
    headers = {k.lower(): v for k, v in signed_headers(SECRET, "ntc_7", BODY, now=NOW).items()}
    notice = verify_webhook(SECRET, headers, BODY, now=NOW + 299)
    assert (notice["id"], notice["type"], notice["data"]) == ("ntc_7", "settlement", {"net": 12})


@given(st.integers(min_value=0, max_value=len(BODY) - 1), st.integers(min_value=1, max_value=255))
def test_any_changed_byte_of_the_body_is_refused(at: int, flip: int) -> None:
    headers = signed_headers(SECRET, "ntc_7", BODY, now=NOW)
    changed = BODY[:at] + bytes([BODY[at] ^ flip]) + BODY[at + 1:]
    with pytest.raises(WebhookSignatureError, match="no webhook signature"):
        verify_webhook(SECRET, headers, changed, now=NOW)


@pytest.mark.parametrize(("change", "why"), [
    ({"Dualcard-Notice-Timestamp": str(NOW + 1)}, "no webhook signature"),
    ({"Dualcard-Notice-Timestamp": "yesterday"}, "not Unix seconds"),
    ({"Dualcard-Notice-Id": "ntc_8"}, "not the notice its header names"),
    ({"Dualcard-Notice-Signature": ""}, "header is missing"),
    ({"Dualcard-Notice-Signature": sign(b"another secret of 16+", NOW, BODY)}, "no webhook signature"),
])
def test_a_webhook_altered_or_from_another_secret_is_refused(change: dict[str, str],
                                                             why: str) -> None:
    headers = {**signed_headers(SECRET, "ntc_7", BODY, now=NOW), **change}
    with pytest.raises(WebhookSignatureError, match=why):
        verify_webhook(SECRET, headers, BODY, now=NOW)


def test_a_stale_webhook_is_refused_and_a_rotated_secret_accepted() -> None:
    headers = signed_headers(SECRET, "ntc_7", BODY, now=NOW)
    with pytest.raises(WebhookSignatureError, match="more than 300 s off"):
        verify_webhook(SECRET, headers, BODY, now=NOW + 301)
    both = {**headers, SIGNATURE_HEADER: f"{sign(b'old secret 0123456789', NOW, BODY)}, "
                                         f"{headers[SIGNATURE_HEADER]}"}
    assert verify_webhook(SECRET, both, BODY, now=NOW)["id"] == "ntc_7"


@pytest.mark.parametrize(("status", "delivered", "permanent"), [
    (200, True, False), (204, True, False), (301, False, False), (400, False, True),
    (404, False, True), (408, False, False), (429, False, False), (500, False, False),
    (503, False, False),
])
def test_what_a_webhook_answer_means(status: int, delivered: bool, permanent: bool) -> None:
    outcome = http_outcome(status)
    assert (outcome.delivered, outcome.permanent) == (delivered, permanent)


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**32))
def test_waits_grow_exponentially_within_their_jitter_up_to_the_cap(attempts: int,
                                                                    seed: int) -> None:
    policy = RetryPolicy(max_attempts=100)
    wait = policy.delay(attempts, random.Random(seed))
    full = min(policy.cap, policy.base * 2 ** (attempts - 1))
    assert full * (1 - policy.jitter) <= wait <= full


def test_give_up_on_a_refusal_or_after_the_last_attempt() -> None:
    policy, now, rng = RetryPolicy(max_attempts=3), dt.datetime(2025, 1, 1), random.Random(1)
    passing = Outcome.failed("HTTP 503")
    assert isinstance(policy.after_failure(passing, 2, now, rng), Retry)
    assert policy.after_failure(passing, 3, now, rng) == Dead("HTTP 503 (after 3 attempts)")
    assert policy.after_failure(Outcome.failed("HTTP 404", permanent=True), 1, now,
                                rng) == Dead("HTTP 404")


def test_every_recipient_has_an_inbox() -> None:
    assert [c.value for c in channels_for(email=False, webhook=False)] == ["inbox"]
    assert [c.value for c in channels_for(email=True, webhook=True)] == ["inbox", "email",
                                                                         "webhook"]
