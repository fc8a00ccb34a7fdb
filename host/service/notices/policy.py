"""What the dispatcher decides, without I/O: which channels a notice goes out on, what an
attempt's result means, and when a failed delivery is tried again or given up.

Backoff is exponential with jitter: the n-th failure waits ``base * factor**(n-1)`` capped
at ``cap``, less a random share of up to ``jitter`` of it, so receivers that come back
after an outage are not hit by every dispatcher at the same instant. After
``max_attempts`` attempts, or at once on a refusal that will not change (a 4xx but 408 or
429, an SMTP 5xx), the delivery is dead: it stays in its table for an operator to see and
retry (``dualcard host notices list --state dead``, ``retry``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

__all__ = ["Channel", "Dead", "DeliveryState", "Outcome", "Retry", "RetryPolicy",
           "channels_for", "email_text", "http_outcome", "notice_id", "webhook_body"]


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    INBOX = "inbox"


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: delivered, or failed for a reason that may pass or not."""

    delivered: bool
    permanent: bool = False
    detail: str = ""

    @classmethod
    def ok(cls) -> Outcome:
        return cls(True)

    @classmethod
    def failed(cls, detail: str, *, permanent: bool = False) -> Outcome:
        return cls(False, permanent, detail)


@dataclass(frozen=True, slots=True)
class Retry:
    at: datetime


@dataclass(frozen=True, slots=True)
class Dead:
    reason: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 12
    base: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    cap: timedelta = timedelta(hours=6)
    jitter: float = 0.5  #: the share of a wait that may be taken off at random

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        full = min(self.cap, self.base * self.factor ** max(0, attempts - 1))
        return full * (1 - self.jitter * rng.random())

    def after_failure(self, outcome: Outcome, attempts: int, now: datetime,
                      rng: random.Random) -> Retry | Dead:
        """Try again later, or give up (a permanent refusal, or no attempts left)."""
        if outcome.permanent:
            return Dead(outcome.detail)
        if attempts >= self.max_attempts:
            return Dead(f"{outcome.detail} (after {attempts} attempt{'s' * (attempts > 1)})")
        return Retry(now + self.delay(attempts, rng))


def http_outcome(status: int) -> Outcome:
    """A webhook's answer: 2xx delivered; 408, 429 and 5xx (and anything else) worth
    another attempt; any other 4xx a refusal that another attempt will not change."""
    if 200 <= status < 300:
        return Outcome.ok()
    permanent = 400 <= status < 500 and status not in (408, 429)
    return Outcome.failed(f"HTTP {status}", permanent=permanent)


def channels_for(*, email: bool, webhook: bool) -> list[Channel]:
    """A notice's channels: its recipient's inbox always, e-mail if an address is on file,
    a webhook if the recipient registered one."""
    return ([Channel.INBOX] + ([Channel.EMAIL] if email else [])
            + ([Channel.WEBHOOK] if webhook else []))


def notice_id(seq: int) -> str:
    """The id a notice keeps on every channel and every attempt."""
    return f"ntc_{seq}"


def webhook_body(seq: int, recipient: str, kind: str, created_at: datetime,
                 body: dict[str, Any]) -> dict[str, Any]:
    return {"id": notice_id(seq), "type": kind, "recipient": recipient,
            "created_at": created_at.isoformat(), "data": body}


_SUBJECTS = {
    "points_earned": "Points earned", "points_redeemed": "Points redeemed",
    "limit_raised": "Your credit line was raised", "settlement": "Settlement posted",
    "conversion": "Points converted",
}


def email_text(kind: str, body: dict[str, Any]) -> tuple[str, str]:
    """An e-mail's subject and plain text for a notice."""
    subject = _SUBJECTS.get(kind, kind.replace("_", " ").capitalize())
    lines = [f"{key}: {value}" for key, value in sorted(body.items())]
    return subject, "\n".join([subject + ".", "", *lines, ""])
