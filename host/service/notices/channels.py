"""The channels' I/O: an e-mail through an SMTP server, a signed POST to a merchant's
webhook, a row in the inbox. Each sends one claimed delivery and says what came of it as
an :class:`~.policy.Outcome`; none decides what happens next (:mod:`.policy` does)."""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

import httpx

from host.backoffice.database import Database

from .policy import Channel, Outcome, email_text, http_outcome, webhook_body
from .signing import NOTICE_ID_HEADER, signed_headers
from .store import Job, put_in_inbox

__all__ = ["InboxChannel", "SMTPChannel", "SMTPSettings", "Sender", "WebhookChannel"]


class Sender(Protocol):
    channel: Channel

    def send(self, job: Job, now: datetime) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class SMTPSettings:
    """Where e-mails go out: the server, how to talk to it, whom they are from."""

    host: str
    port: int = 25
    starttls: bool = False  #: upgrade the connection with STARTTLS (and verify the server)
    sender: str = "notices@dualcard.invalid"
    username: str | None = None
    password: str | None = None  #: used only with ``username``
    timeout: float = 30.0


class SMTPChannel:
    """E-mail over SMTP, one connection per message (notices are few and far between)."""

    channel = Channel.EMAIL

    def __init__(self, settings: SMTPSettings,
                 tls: Callable[[], ssl.SSLContext] = ssl.create_default_context) -> None:
        self.settings = settings
        self._tls = tls

    def message(self, job: Job, now: datetime) -> EmailMessage:
        """The e-mail of a notice; its Message-ID is the notice's, on every attempt, so a
        mail system or reader that saw it already can drop the copy."""
        subject, text = email_text(job.kind, job.body)
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.settings.sender, job.email, subject
        mail["Date"] = format_datetime(now)
        mail["Message-ID"] = f"<{job.notice_id}@{self.settings.sender.rpartition('@')[2]}>"
        mail[NOTICE_ID_HEADER] = job.notice_id
        mail.set_content(text)
        return mail

    def send(self, job: Job, now: datetime) -> Outcome:
        if not job.email:
            return Outcome.failed("no e-mail address on file", permanent=True)
        s = self.settings
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls(context=self._tls())
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(self.message(job, now))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return Outcome.failed(f"SMTP refused the recipient ({codes[0]})",
                                  permanent=all(code >= 500 for code in codes))
        except smtplib.SMTPResponseException as exc:
            return Outcome.failed(f"SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500)
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome.failed(f"SMTP: {type(exc).__name__}")
        return Outcome.ok()


class WebhookChannel:
    """A signed JSON POST to the merchant's webhook URL."""

    channel = Channel.WEBHOOK

    def __init__(self, client: httpx.Client | None = None, *, timeout: float = 10.0) -> None:
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, job: Job, now: datetime) -> Outcome:
        if job.webhook is None:
            return Outcome.failed("no webhook registered", permanent=True)
        url, secret = job.webhook
        body = json.dumps(webhook_body(job.seq, job.recipient_id, job.kind, job.created_at,
                                       job.body), sort_keys=True).encode()
        headers = signed_headers(secret, job.notice_id, body, now=int(now.timestamp()))
        try:
            answer = self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome.failed(f"webhook: {type(exc).__name__}")
        return http_outcome(answer.status_code)

    def close(self) -> None:
        self._client.close()


class InboxChannel:
    """The recipient's inbox in the database, which the portal reads."""

    channel = Channel.INBOX

    def __init__(self, db: Database) -> None:
        self.db = db

    def send(self, job: Job, now: datetime) -> Outcome:
        put_in_inbox(self.db, job, at=now)
        return Outcome.ok()
