"""``dualcard host notices`` and ``dualcard host webhooks``: registering where notices go,
one round of delivery to a real SMTP server and webhook receiver, the dead ones listed
and retried, the inbox shown once; and a dispatcher process killed (SIGKILL) between a
send and its record, whose notice another dispatcher sends again under the same id."""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from host.backoffice.database import Database
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.cli.host_cmds import host as host_group
from host.service.notices import Dispatcher, WebhookChannel, create_notices_schema
from host.service.notices.store import deliveries, set_webhook
from tests.backoffice.conftest import db_url, pg_server_url, pg_url  # noqa: F401
from tests.pos.conftest import MERCHANT, terminal_files

from .notice_helpers import SECRET, T0, Clock, notice_office, smtp_server, webhook_receiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _service_logger() -> Iterator[None]:
    """``notices run`` points the service's logger at its stderr: put it back after."""
    logger = logging.getLogger("dualcard.service")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(host_group, list(args), catch_exceptions=False)


def _office_with_notices(url: str) -> None:
    office = notice_office(url)
    with office.db.write() as conn:
        post_notices(conn, [Notice("b1/C001", "C001", MessageKind.POINTS_EARNED, {"points": 5}),
                            Notice("b1/TEA", "TEA", MessageKind.SETTLEMENT, {"net": 7})], at=T0)
    office.close()


def test_register_deliver_list_retry_and_read_the_inbox(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.sqlite3")
    _office_with_notices(db)
    secret_file = tmp_path / "tea.secret"
    secret_file.write_text(SECRET + "\n")
    assert "not an e-mail address" in _invoke("notices", "email", "C001", "zhang", "--db",
                                              db).output
    assert _invoke("notices", "email", "C001", "zhang@example.org", "--db", db).exit_code == 0
    clock = Clock(dt.datetime.now(dt.UTC))
    with smtp_server() as mailbox, webhook_receiver(clock, statuses=[404]) as receiver:
        done = _invoke("webhooks", "set", "TEA", receiver.url, "--secret-file", str(secret_file),
                       "--db", db)
        assert done.output == f"TEA: notices posted to {receiver.url}\n"
        assert json.loads(_invoke("webhooks", "list", "--db", db, "--json").output) == [
            {"merchant_id": "TEA", "url": receiver.url}]
        smtp = ["--smtp-host", mailbox.host, "--smtp-port", str(mailbox.port)]
        ran = _invoke("notices", "run", "--once", "--db", db, *smtp, "--json")
        assert json.loads(ran.stdout) == {"delivered": 3, "retry": 0, "dead": 1}
        [dead] = json.loads(_invoke("notices", "list", "--state", "dead", "--db", db,
                                    "--json").output)
        assert (dead["channel"], dead["recipient"], dead["last_error"]) == ("webhook", "TEA",
                                                                           "HTTP 404")
        assert _invoke("notices", "retry", str(dead["id"]), "--db", db).exit_code == 0
        again = _invoke("notices", "retry", str(dead["id"]), "--db", db)
        assert again.exit_code == 1 and "is pending, not dead" in again.output
        assert _invoke("notices", "run", "--once", "--db", db).stdout == (
            "delivered 1, retry 0, dead 0\n")
    assert len(mailbox.received) == 1 and list(receiver.acted_on) == ["ntc_2"]
    assert "no deliveries" not in _invoke("notices", "list", "--db", db).output
    first = json.loads(_invoke("notices", "inbox", "C001", "--db", db, "--json").output)
    assert [(e["notice"], e["body"], e["read_at"]) for e in first] == [("ntc_1", {"points": 5},
                                                                         None)]
    assert _invoke("notices", "inbox", "C001", "--db", db).output == "no new notices\n"


def test_a_database_without_a_back_office_is_named(tmp_path: Path) -> None:
    done = _invoke("notices", "list", "--db", str(tmp_path / "empty.sqlite3"))
    assert done.exit_code == 1 and "dualcard ledger init" in done.output


_KILLED_AFTER_SEND = """
import os, signal, sys
from host.backoffice.database import Database
from host.service.notices import Dispatcher, WebhookChannel
db = Database(sys.argv[1])
Dispatcher(db, [WebhookChannel()],
           after_send=lambda job: os.kill(os.getpid(), signal.SIGKILL)).run_once()
"""


def test_a_dispatcher_killed_between_send_and_record_is_followed_by_a_resend(
        db_url: str) -> None:  # noqa: F811
    _office_with_notices(db_url)
    db = Database(db_url)
    create_notices_schema(db)
    clock = Clock(dt.datetime.now(dt.UTC))
    try:
        with webhook_receiver(clock) as receiver:
            set_webhook(db, "TEA", receiver.url, SECRET, at=T0)
            killed = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED_AFTER_SEND),
                                     db_url], cwd=ROOT, timeout=120)
            assert killed.returncode == -9 and receiver.attempts == ["ntc_2"]
            [hook] = [d for d in deliveries(db) if d.channel == "webhook"]
            assert (hook.state, hook.attempts) == ("pending", 1)  # sent, never recorded
            clock.advance(dt.timedelta(minutes=3))  # past the dead process's lease
            after = Dispatcher(db, [WebhookChannel()], clock=clock)
            assert after.run_once() == 1
        assert receiver.attempts == ["ntc_2", "ntc_2"] and list(receiver.acted_on) == ["ntc_2"]
        [hook] = [d for d in deliveries(db) if d.channel == "webhook"]
        assert (hook.state, hook.attempts) == ("delivered", 2)
    finally:
        db.dispose()


def test_serve_with_notices_delivers_them_and_stops_on_sigterm(tmp_path: Path) -> None:
    directory = Path(terminal_files(tmp_path)["dir"])
    db = str(directory / "ledger.sqlite3")
    database = Database(db)
    create_notices_schema(database)
    with database.write() as conn:
        post_notices(conn, [Notice("day/shop-a", MERCHANT.merchant_id, MessageKind.SETTLEMENT,
                                   {"net": 7})], at=T0)
    clock = Clock(dt.datetime.now(dt.UTC))
    try:
        with webhook_receiver(clock) as receiver:
            set_webhook(database, MERCHANT.merchant_id, receiver.url, SECRET, at=T0)
            server = subprocess.Popen(
                [sys.executable, "-m", "host.cli.main", "host", "serve", "--db", db,
                 "--iso-port", "0", "--bank-id", "bank",
                 "--payment-keys", str(directory / "issuer.json"),
                 "--points-keys", str(directory / "points-keys.json"),
                 "--card-keys", str(directory / "card-keys.json"), "--notices", "--plain"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                assert server.stdout is not None and "ISO 8583 on" in server.stdout.readline()
                _wait_for(lambda: bool(receiver.acted_on))
            finally:
                server.send_signal(signal.SIGTERM)
                _, errors = server.communicate(timeout=60)
        assert server.returncode == 0, errors
        assert list(receiver.acted_on) == ["ntc_1"]
        logs = [json.loads(line) for line in errors.splitlines()]
        assert {(e["notice"], e["channel"], e["result"]) for e in logs if "notice" in e} == {
            ("ntc_1", "inbox", "delivered"), ("ntc_1", "webhook", "delivered")}
        assert SECRET not in errors
    finally:
        database.dispose()


def _wait_for(condition: Callable[[], bool], *, limit: float = 60.0) -> None:
    """Until ``condition`` holds (failing after ``limit`` seconds of waiting)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.05)


def test_two_dispatcher_processes_share_the_outbox_each_notice_sent_once(
        db_url: str) -> None:  # noqa: F811
    office = notice_office(db_url)
    count = 40
    with office.db.write() as conn:
        post_notices(conn, [Notice(f"day/{n}", "TEA", MessageKind.SETTLEMENT, {"n": n})
                            for n in range(count)], at=T0)
    create_notices_schema(office.db)
    clock = Clock(dt.datetime.now(dt.UTC))
    try:
        with webhook_receiver(clock, delay=0.02) as receiver:
            set_webhook(office.db, "TEA", receiver.url, SECRET, at=T0)
            command = [sys.executable, "-m", "host.cli.main", "host", "notices", "run", "--once",
                       "--db", db_url, "--json"]
            runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(2)]
            answers = [run.communicate(timeout=120) for run in runs]
        outputs = [out for out, _ in answers]
        assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in answers]
        assert sum(json.loads(out)["delivered"] for out in outputs) == 2 * count  # + inboxes
        assert sorted(receiver.attempts) == sorted(f"ntc_{n + 1}" for n in range(count))
    finally:
        office.close()
