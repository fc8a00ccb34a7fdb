"""The dispatcher: turns the outbox's notices into deliveries, claims the due ones, sends
each on its channel, records the outcome. Any number of dispatchers, in any processes,
share the work through the database (:mod:`.store`).

Delivery is at least once. A dispatcher that dies after sending and before recording
leaves its claim to expire (``lease``); another dispatcher then sends the notice again,
under the same notice id, which is what the receiver deduplicates on.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence

from host.backoffice.database import Database

from ..kek import CLEAR, KeyVault
from .channels import Sender
from .policy import Dead, RetryPolicy
from .store import Job, claim, fan_out, record_delivered, record_failure, release

__all__ = ["LOGGER", "Dispatcher"]

LOGGER = logging.getLogger("dualcard.service.notices")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Dispatcher:
    """Delivers the outbox of ``db`` on the channels it is given senders for."""

    def __init__(self, db: Database, senders: Sequence[Sender], *,
                 policy: RetryPolicy | None = None,
                 clock: Callable[[], dt.datetime] = _utc_now,
                 rng: random.Random | None = None,
                 lease: dt.timedelta = dt.timedelta(minutes=2), batch: int = 10,
                 name: str | None = None,
                 after_send: Callable[[Job], None] | None = None,
                 vault: KeyVault = CLEAR) -> None:
        self.db = db
        self.vault = vault  #: the webhook secrets unwrapped through it
        self.senders = {s.channel: s for s in senders}
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.rng = rng or random.Random()
        self.lease = lease
        self.batch = batch
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        #: called between a send and its record (tests stop the dispatcher there)
        self.after_send = after_send
        #: attempts so far by what came of them: ``delivered``, ``retry``, ``dead``
        self.counts: Counter[str] = Counter()

    def run_once(self, stop: threading.Event | None = None) -> int:
        """One round: new notices fanned out, then every due delivery claimed and sent, a
        batch at a time; how many deliveries were attempted. Once ``stop`` is set, the
        delivery in hand is finished and the rest of the batch released at once."""
        while fan_out(self.db, at=self.clock()):
            pass
        attempted = 0
        while jobs := claim(self.db, self.name, now=self.clock(), lease=self.lease,
                            channels=self.senders, limit=self.batch, vault=self.vault):
            for at, job in enumerate(jobs):
                if stop is not None and stop.is_set():
                    release(self.db, jobs[at:], self.name)
                    return attempted
                self.deliver(job)
                attempted += 1
        return attempted

    def deliver(self, job: Job) -> None:
        """Send one claimed delivery and record what came of it."""
        outcome = self.senders[job.channel].send(job, self.clock())
        if self.after_send is not None:
            self.after_send(job)
        if outcome.delivered:
            record_delivered(self.db, job, at=self.clock())
            self._log(job, "delivered")
            return
        decision = self.policy.after_failure(outcome, job.attempts, self.clock(), self.rng)
        detail = decision.reason if isinstance(decision, Dead) else outcome.detail
        record_failure(self.db, job, self.name, decision, detail)
        self._log(job, "dead" if isinstance(decision, Dead) else "retry", detail)

    def run(self, stop: threading.Event, *, poll: float = 2.0) -> None:
        """Rounds until ``stop`` is set; an idle round waits ``poll`` seconds. A round that
        fails (the database away) is logged and the next one tries again."""
        while not stop.is_set():
            try:
                busy = self.run_once(stop)
            except Exception:
                LOGGER.exception("notice round failed", extra={"fields": {"dispatcher":
                                                                           self.name}})
                busy = 0
            if not busy:
                stop.wait(poll)

    def close(self) -> None:
        """Close the senders' connections (a webhook's HTTP client)."""
        for sender in self.senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                close()

    def _log(self, job: Job, result: str, detail: str = "") -> None:
        self.counts[result] += 1
        fields = {"notice": job.notice_id, "channel": job.channel.value,
                  "recipient": job.recipient_id, "attempt": job.attempts, "result": result}
        if detail:
            fields["reason"] = detail
        LOGGER.info("notice %s", result, extra={"fields": fields})
