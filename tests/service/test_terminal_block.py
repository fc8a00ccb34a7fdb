"""A terminal the operator blocked: refused on both doors (58; 403 ``terminal_blocked``),
nothing posted, within the directory's ``max_age`` in every process; unblocked, served
again. A database made before terminals had a status gains it when the service starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, inspect, select, text

from host.backoffice.database import Database
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.schema import bo_terminals, ledger_transfers
from host.backoffice.terminals import TerminalStatus, set_terminal_status, terminal_states
from host.cli.host_cmds import host as host_group
from host.pos.link import PaymentMethod
from host.pos.network_link import HTTPRefusedError, ServiceRefusedError
from host.service.schema import create_service_schema
from host.service.terminals import TerminalDirectory
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, START, build_office

from .conftest import Host, arqc_request
from .http_helpers import error, send
from .test_http_door import STRIPE, _swipe

pytestmark = pytest.mark.sim

TERMINAL = MERCHANT.terminal_hex


def _set(db: Database, status: TerminalStatus, reason: str = "till stolen") -> None:
    with db.write() as conn:
        set_terminal_status(conn, TERMINAL, status, by="ops-1", reason=reason, at=START)


def _transfers(host: Host) -> int:
    with host.office.db.read() as conn:
        return len(conn.execute(select(ledger_transfers.c.id)).all())


def test_a_blocked_terminal_is_refused_on_both_doors_and_nothing_is_posted(
        service: Host, card: Any) -> None:
    service.core.terminals.max_age = 0.0  # every request reads the status
    _, request = arqc_request(card, 10_00)
    with service.link() as link:  # one link: one STAN counter
        link.echo()
        _set(service.office.db, TerminalStatus.BLOCKED)
        before = _transfers(service)
        with pytest.raises(ServiceRefusedError) as refused:
            link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
        assert refused.value.code == "58" and refused.value.authenticated  # signed
        with pytest.raises(ServiceRefusedError, match="58"):
            link.echo()
        response = send(service.http_url or "", service.terminal.key, "POST", STRIPE, _swipe())
        assert response.status_code == 403 and error(response)["code"] == "terminal_blocked"
        assert service.authorisations() == [] and _transfers(service) == before
        _set(service.office.db, TerminalStatus.ACTIVE, "till found")
        assert link.authorise(request, card_id=SAMPLE.identity,
                              method=PaymentMethod.DEBIT).response.approved
    assert len(service.authorisations()) == 1


def test_the_http_link_reports_the_block_as_a_typed_refusal(service: Host) -> None:
    service.core.terminals.max_age = 0.0
    _set(service.office.db, TerminalStatus.BLOCKED)
    with service.link() as link, pytest.raises(HTTPRefusedError) as refused:
        link.earn_quotes(merchant_id="shop-a", card_id=SAMPLE.identity, purchase_fen=100_00,
                         at=START, method=PaymentMethod.DEBIT)
    assert (refused.value.status, refused.value.code) == (403, "terminal_blocked")


def test_a_block_reaches_another_process_within_max_age(sqlite_host: Host) -> None:
    """Two directories are two service processes: the one that read the terminal before
    the block keeps serving it until its copy is ``max_age`` old, never longer."""
    now = [100.0]
    db = sqlite_host.office.db
    early = TerminalDirectory(db, max_age=5.0, clock=lambda: now[0])
    assert early.get(TERMINAL) is not None and not early.get(TERMINAL).blocked  # type: ignore[union-attr]
    _set(db, TerminalStatus.BLOCKED)
    late = TerminalDirectory(db, max_age=5.0, clock=lambda: now[0])
    assert late.get(TERMINAL).blocked  # type: ignore[union-attr]
    now[0] += 4.999
    assert not early.get(TERMINAL).blocked  # type: ignore[union-attr]
    now[0] += 0.001
    assert early.get(TERMINAL).blocked  # type: ignore[union-attr]


def test_a_status_change_names_who_when_and_why_and_is_refused_twice(sqlite_host: Host) -> None:
    db = sqlite_host.office.db
    _set(db, TerminalStatus.BLOCKED)
    with pytest.raises(ValidationError, match="already blocked"):
        _set(db, TerminalStatus.BLOCKED)
    for reason in ("", "  ", "x" * 201):
        with pytest.raises(ValidationError, match="reason"):
            _set(db, TerminalStatus.ACTIVE, reason)
    with pytest.raises(NotFoundError), db.write() as conn:
        set_terminal_status(conn, "0000000C0009", TerminalStatus.BLOCKED, by="ops-1",
                            reason="x", at=START)
    with db.read() as conn:
        [state] = [s for s in terminal_states(conn) if s.terminal_id == TERMINAL]
    assert (state.status, state.changed_by, state.changed_at, state.reason) == (
        TerminalStatus.BLOCKED, "ops-1", START, "till stolen")


def _cli(*args: str) -> Any:
    return CliRunner().invoke(host_group, list(args), catch_exceptions=False)


def test_the_cli_blocks_and_unblocks_with_one_line_and_refuses_bad_input(
        sqlite_host: Host) -> None:
    url = sqlite_host.office.db.url
    blocked = _cli("terminal", "block", TERMINAL.lower(), "--db", url, "--reason", "lost",
                   "--by", "ops-2")
    assert blocked.exit_code == 0 and blocked.output == (
        f"terminal {TERMINAL} of shop-a: blocked by ops-2\n")
    listed = _cli("terminal", "list", "--db", url, "--json")
    assert '"status": "blocked"' in listed.output
    for args, says in ((("block", TERMINAL, "--reason", "again"), "already blocked"),
                       (("unblock", "12345", "--reason", "x"), "12 hex digits"),
                       (("unblock", "0000000C0009", "--reason", "x"), "no terminal"),
                       (("unblock", TERMINAL, "--reason", " "), "reason")):
        refused = _cli("terminal", *args, "--db", url)
        assert refused.exit_code == 1 and says in refused.output
        assert len(refused.output.strip().splitlines()) == 1
    assert _cli("terminal", "unblock", TERMINAL, "--db", url).exit_code == 2  # no --reason
    assert _cli("terminal", "unblock", TERMINAL, "--db", url, "--reason", "found").exit_code == 0


@pytest.fixture
def old_database(tmp_path: Path, db_url: str) -> Database:
    """The POS alliance in a database whose ``bo_terminals`` has no status yet (as made
    before it existed), one terminal keyed."""
    office = build_office(tmp_path, db_url)
    db = office.db
    with db.engine.begin() as conn:
        for column in ("status", "status_by", "status_at", "status_reason"):
            conn.execute(text(f"ALTER TABLE bo_terminals DROP COLUMN {column}"))
        conn.execute(text("INSERT INTO bo_terminals (terminal_id, merchant_id, created_at, "
                          "format_version) VALUES ('0000000A0009', 'shop-a', 0, 2)"))
    return db


def test_an_older_database_gains_the_status_when_the_service_starts(
        old_database: Database) -> None:
    db = old_database
    with db.engine.connect() as conn:
        assert "status" not in {c["name"] for c in inspect(conn).get_columns("bo_terminals")}
    create_service_schema(db)
    create_service_schema(db)  # idempotent
    db.create_schema()
    with db.read() as conn:
        states = {s.terminal_id: s.status for s in terminal_states(conn)}
    assert states == {TERMINAL: TerminalStatus.ACTIVE, "0000000A0009": TerminalStatus.ACTIVE}
    with db.write() as conn:  # a row written without naming the status is active
        conn.execute(insert(bo_terminals), {"terminal_id": "0000000A0008",
                                            "merchant_id": "shop-a", "created_at": 0})
    _set(db, TerminalStatus.BLOCKED)
    with db.read() as conn:
        assert {s.terminal_id: s.blocked for s in terminal_states(conn)} == {
            TERMINAL: True, "0000000A0008": False, "0000000A0009": False}
    db.dispose()
