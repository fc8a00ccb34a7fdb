"""The notice dispatcher against real receivers on loopback, on SQLite and PostgreSQL:
e-mail through an SMTP server, signed webhooks to a merchant's HTTP endpoint, the inbox;
retries with backoff on a clock the test moves, dead deliveries and their retry, a
dispatcher stopped between sending and recording, two dispatchers at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.backoffice import BackOffice
from host.backoffice.database import Database
from host.backoffice.outbox import MessageKind, Notice, post_notices, undelivered
from host.service.notices import (
    Channel,
    DeliveryState,
    Dispatcher,
    InboxChannel,
    RetryPolicy,
    SMTPChannel,
    SMTPSettings,
    WebhookChannel,
    create_notices_schema,
)
from host.service.notices.store import (
    NoticeSetupError,
    NoticeStateError,
    claim,
    deliveries,
    fan_out,
    read_inbox,
    retry_dead,
    set_email,
    set_webhook,
)
from tests.backoffice.conftest import db_url, pg_server_url, pg_url  # noqa: F401

from .notice_helpers import (
    SECRET,
    T0,
    Clock,
    Mailbox,
    body_of,
    loopback_certificate,
    notice_office,
    smtp_server,
    starttls_smtp_server,
    webhook_receiver,
)

POLICY = RetryPolicy(max_attempts=5, base=dt.timedelta(seconds=30), jitter=0.5)


@pytest.fixture
def office(db_url: str) -> Iterator[BackOffice]:  # noqa: F811
    office = notice_office(db_url)
    create_notices_schema(office.db)
    yield office
    office.close()


def _post(db: Database, *notices: tuple[str, str, dict[str, int]]) -> None:
    with db.write() as conn:
        post_notices(conn, [Notice(key, recipient, MessageKind.POINTS_EARNED, body)
                            for key, recipient, body in notices], at=T0)


def _dispatcher(db: Database, clock: Clock, *, mailbox: Mailbox | None = None,
                **kwargs: object) -> Dispatcher:
    senders: list[object] = [InboxChannel(db), WebhookChannel(timeout=5.0)]
    if mailbox is not None:
        senders.append(SMTPChannel(SMTPSettings(mailbox.host, mailbox.port,
                                                sender="notices@alliance.example")))
    kwargs.setdefault("policy", POLICY)
    return Dispatcher(db, senders, clock=clock, rng=random.Random(7), **kwargs)  # type: ignore[arg-type]


def test_a_notice_reaches_the_holder_by_mail_the_merchant_by_webhook_and_both_inboxes(
        office: BackOffice) -> None:
    db, clock = office.db, Clock()
    set_email(db, "C001", "zhang@example.org", at=T0)
    with smtp_server() as mailbox, webhook_receiver(clock) as receiver:
        set_webhook(db, "TEA", receiver.url, SECRET, at=T0)
        _post(db, ("b1/C001", "C001", {"points": 120}), ("b1/TEA", "TEA", {"points": 12}))
        assert _dispatcher(db, clock, mailbox=mailbox).run_once() == 4  # 2 inboxes, mail, hook
        assert _dispatcher(db, clock, mailbox=mailbox).run_once() == 0
    [(to, mail)] = mailbox.received
    assert to == ["zhang@example.org"] and mail["Subject"] == "Points earned"
    assert mail["Dualcard-Notice-Id"] == "ntc_1" and mail["Message-ID"] == "<ntc_1@alliance.example>"
    assert "points: 120" in body_of(mail)
    assert list(receiver.acted_on) == ["ntc_2"] and receiver.refused == []
    assert receiver.acted_on["ntc_2"]["data"] == {"points": 12}
    assert undelivered(db) == []
    assert {d.state for d in deliveries(db)} == {"delivered"}
    [shown] = read_inbox(db, "C001", at=T0)
    assert (shown.notice_id, shown.body, shown.read_at) == ("ntc_1", {"points": 120}, None)
    assert read_inbox(db, "C001", at=T0) == []  # shown once
    [again] = read_inbox(db, "C001", at=T0, unread_only=False)
    assert again.read_at == T0


def test_a_receiver_failing_three_times_gets_the_notice_once_with_growing_waits(
        office: BackOffice) -> None:
    db, clock = office.db, Clock()
    with webhook_receiver(clock, statuses=[503, 500, 429]) as receiver:
        set_webhook(db, "TEA", receiver.url, SECRET, at=T0)
        _post(db, ("b1/TEA", "TEA", {"points": 12}))
        dispatcher = _dispatcher(db, clock)
        waits = []
        for attempt in range(1, 4):
            assert dispatcher.run_once() >= 1
            [hook] = [d for d in deliveries(db) if d.channel == "webhook"]
            assert (hook.state, hook.attempts) == ("pending", attempt)
            wait = hook.next_at - clock.now
            full = POLICY.base * 2 ** (attempt - 1)
            assert full * (1 - POLICY.jitter) <= wait <= full
            waits.append(wait)
            assert dispatcher.run_once() == 0  # not due yet
            clock.advance(wait)
        assert dispatcher.run_once() == 1
    assert receiver.attempts == ["ntc_1"] * 4 and list(receiver.acted_on) == ["ntc_1"]
    [hook] = [d for d in deliveries(db) if d.channel == "webhook"]
    assert (hook.state, hook.attempts, hook.last_error) == ("delivered", 4, None)
    assert undelivered(db) == []


def test_a_refusal_is_dead_at_once_and_an_operator_revives_it(office: BackOffice) -> None:
    db, clock = office.db, Clock()
    with webhook_receiver(clock, statuses=[410]) as receiver:
        set_webhook(db, "TEA", receiver.url, SECRET, at=T0)
        _post(db, ("b1/TEA", "TEA", {"points": 12}))
        dispatcher = _dispatcher(db, clock)
        dispatcher.run_once()
        [dead] = deliveries(db, state=DeliveryState.DEAD)
        assert (dead.channel, dead.attempts, dead.last_error) == ("webhook", 1, "HTTP 410")
        assert [m.seq for m in undelivered(db)] == [1]  # the outbox still waits for it
        with pytest.raises(NoticeStateError, match="not dead"):
            retry_dead(db, dead.id - 1 if dead.id > 1 else dead.id + 1, at=T0)
        retry_dead(db, dead.id, at=T0)
        assert dispatcher.run_once() == 1
    assert receiver.attempts == ["ntc_1", "ntc_1"] and list(receiver.acted_on) == ["ntc_1"]
    assert deliveries(db, state=DeliveryState.DEAD) == [] and undelivered(db) == []
    with pytest.raises(NoticeStateError, match="no delivery"):
        retry_dead(db, 999, at=T0)


def test_a_receiver_down_for_good_is_dead_after_the_last_attempt(office: BackOffice) -> None:
    db, clock = office.db, Clock()
    with webhook_receiver(clock) as receiver:
        url = receiver.url  # the receiver is gone from here on: connections are refused
    set_webhook(db, "TEA", url, SECRET, at=T0)
    _post(db, ("b1/TEA", "TEA", {"points": 12}))
    dispatcher = _dispatcher(db, clock)
    for _ in range(POLICY.max_attempts):
        dispatcher.run_once()
        clock.advance(POLICY.cap)
    [dead] = deliveries(db, state=DeliveryState.DEAD)
    assert dead.attempts == POLICY.max_attempts
    assert dead.last_error == "webhook: ConnectError (after 5 attempts)"


def test_smtp_refusals_permanent_and_passing(office: BackOffice) -> None:
    db, clock = office.db, Clock()
    set_email(db, "C001", "zhang@example.org", at=T0)
    set_email(db, "C002", "li@example.org", at=T0)
    with smtp_server() as mailbox:
        mailbox.refuse_with = "451 4.3.0 try again later"
        _post(db, ("b1/C001", "C001", {"points": 1}))
        dispatcher = _dispatcher(db, clock, mailbox=mailbox)
        dispatcher.run_once()
        [mail] = [d for d in deliveries(db) if d.channel == "email"]
        assert (mail.state, mail.last_error) == ("pending", "SMTP 451")
        mailbox.refuse_with = "554 5.7.1 rejected"
        _post(db, ("b1/C002", "C002", {"points": 2}))
        clock.advance(POLICY.cap)
        dispatcher.run_once()
    assert {d.recipient_id: d.state for d in deliveries(db) if d.channel == "email"} == {
        "C001": "dead", "C002": "dead"}
    assert mailbox.received == []


def test_a_dispatcher_stopped_after_sending_leaves_the_notice_to_be_sent_again_same_id(
        office: BackOffice) -> None:
    class Stopped(BaseException):
        """The process dying between the send and its record."""

    def die(job: object) -> None:
        raise Stopped

    db, clock = office.db, Clock()
    with webhook_receiver(clock) as receiver:
        set_webhook(db, "TEA", receiver.url, SECRET, at=T0)
        _post(db, ("b1/TEA", "TEA", {"points": 12}))
        first = Dispatcher(
            db, [WebhookChannel(timeout=5.0)], clock=clock, policy=POLICY, after_send=die,
            lease=dt.timedelta(minutes=2))
        with pytest.raises(Stopped):
            first.run_once()
        second = Dispatcher(db, [WebhookChannel(timeout=5.0)], clock=clock, policy=POLICY)
        assert second.run_once() == 0  # the first one's lease still holds
        clock.advance(dt.timedelta(minutes=2))
        assert second.run_once() == 1
    assert receiver.attempts == ["ntc_1", "ntc_1"]  # at least once: sent twice, same id
    assert list(receiver.acted_on) == ["ntc_1"]  # the receiver acted once
    [hook] = [d for d in deliveries(db) if d.channel == "webhook"]
    assert (hook.state, hook.attempts) == ("delivered", 2)


def test_claims_never_overlap(office: BackOffice) -> None:
    db = office.db
    _post(db, *((f"b/{n}", "C001", {"n": n}) for n in range(10)))
    assert fan_out(db, at=T0) == 10 and fan_out(db, at=T0) == 0
    lease = dt.timedelta(minutes=1)
    a = claim(db, "a", now=T0, lease=lease, channels=[Channel.INBOX], limit=6)
    b = claim(db, "b", now=T0, lease=lease, channels=[Channel.INBOX], limit=6)
    assert (len(a), len(b)) == (6, 4)
    assert not {j.delivery_id for j in a} & {j.delivery_id for j in b}
    assert claim(db, "c", now=T0, lease=lease, channels=[Channel.INBOX]) == []
    assert claim(db, "c", now=T0, lease=lease, channels=[Channel.EMAIL]) == []
    taken_over = claim(db, "c", now=T0 + lease, lease=lease, channels=[Channel.INBOX])
    assert len(taken_over) == 10  # leases expired: another dispatcher takes them all


def test_two_dispatchers_at_once_deliver_each_notice_once(office: BackOffice,
                                                          tmp_path: Path) -> None:
    db, clock = office.db, Clock()
    count = 60
    with webhook_receiver(clock) as receiver:
        set_webhook(db, "TEA", receiver.url, SECRET, at=T0)
        _post(db, *((f"b/{n}", "TEA", {"n": n}) for n in range(count)))
        others = [Database(db.url) for _ in range(2)]
        workers = [Dispatcher(other, [InboxChannel(other), WebhookChannel(timeout=10.0)],
                              clock=clock, policy=POLICY, batch=3, name=f"d{n}")
                   for n, other in enumerate(others)]
        start = threading.Barrier(2)
        done: list[int] = []

        def work(dispatcher: Dispatcher) -> None:
            start.wait()
            done.append(dispatcher.run_once())

        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for other in others:
            other.dispose()
    assert sum(done) == 2 * count
    assert sorted(receiver.attempts) == sorted(f"ntc_{n + 1}" for n in range(count))
    assert {d.state for d in deliveries(db, limit=1000)} == {"delivered"}
    assert undelivered(db) == []


def test_addresses_and_webhooks_are_checked(office: BackOffice) -> None:
    db = office.db
    for bad in ("zhang", "Zhang <zhang@example.org>", "a@b@c", "a b@c.org"):
        with pytest.raises(NoticeSetupError, match="not an e-mail address"):
            set_email(db, "C001", bad, at=T0)
    with pytest.raises(NoticeSetupError, match="not a merchant"):
        set_webhook(db, "C001", "https://shop.example/hook", SECRET, at=T0)
    with pytest.raises(NoticeSetupError, match="not an http"):
        set_webhook(db, "TEA", "ftp://shop.example/hook", SECRET, at=T0)
    with pytest.raises(NoticeSetupError, match="at least 16"):
        set_webhook(db, "TEA", "https://shop.example/hook", "short", at=T0)


def test_mail_goes_out_over_starttls_with_a_login_and_not_to_an_unverified_server(
        tmp_path: Path) -> None:
    office = notice_office(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    db, clock = office.db, Clock()
    create_notices_schema(db)
    set_email(db, "C001", "zhang@example.org", at=T0)
    _post(db, ("b1/C001", "C001", {"points": 1}))
    pem = loopback_certificate(tmp_path)
    settings = SMTPSettings("127.0.0.1", 0, starttls=True, username="alliance",
                            password="relay-pass")
    try:
        with starttls_smtp_server(pem, ("alliance", "relay-pass")) as mailbox:
            settings = dataclasses.replace(settings, port=mailbox.port)
            untrusting = Dispatcher(db, [SMTPChannel(settings)], clock=clock, policy=POLICY)
            untrusting.run_once()  # the default context does not know the relay's certificate
            [mail] = [d for d in deliveries(db) if d.channel == "email"]
            assert (mail.state, mail.last_error) == ("pending", "SMTP: SSLCertVerificationError")
            clock.advance(POLICY.cap)
            trusting = Dispatcher(db, [SMTPChannel(settings, tls=lambda: ssl.create_default_context(
                cafile=str(pem)))], clock=clock, policy=POLICY)
            assert trusting.run_once() == 1
        [(to, message)] = mailbox.received
        assert to == ["zhang@example.org"] and message["Dualcard-Notice-Id"] == "ntc_1"
    finally:
        office.close()


def test_a_stopping_dispatcher_finishes_the_delivery_in_hand_and_gives_back_the_rest(
        office: BackOffice) -> None:
    db, clock, stop = office.db, Clock(), threading.Event()
    _post(db, *((f"b/{n}", "C001", {"n": n}) for n in range(5)))
    stopping = Dispatcher(db, [InboxChannel(db)], clock=clock, batch=5,
                          after_send=lambda job: stop.set())
    assert stopping.run_once(stop) == 1
    assert [d.attempts for d in deliveries(db)] == [1, 0, 0, 0, 0]
    assert Dispatcher(db, [InboxChannel(db)], clock=clock).run_once() == 4  # no lease to wait
    assert [(d.state, d.attempts) for d in deliveries(db)] == [("delivered", 1)] * 5
