"""The operator's terminals page over HTTP: enrolling a terminal (its key shown once, as the
CLI's key file), blocking and unblocking it with a reason; who may (the operator only),
CSRF, and bad input (an id of the wrong shape, an unknown member, a member without
terminals, an id enrolled already), each of which writes nothing."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from host.backoffice.schema import bo_terminals
from host.backoffice.terminals import TerminalStatus, terminal_states
from host.portal.app import PATH
from host.service.mac import KEY_FILE_FORMAT, key_check_value
from host.service.schema import svc_terminal_keys
from host.service.terminals import TerminalDirectory
from host.service.wrap_keys import open_vault

from .conftest import Alliance, csrf_of

TERMINALS = f"{PATH}/operator/terminals"
NEW = "0000000A0002"


def _rows(alliance: Alliance) -> tuple[int, int]:
    """How many terminals the back office has, and how many keys the service."""
    with alliance.office.db.read() as conn:
        keys = 0
        if conn.dialect.has_table(conn, svc_terminal_keys.name):
            keys = conn.execute(select(func.count()).select_from(svc_terminal_keys)).scalar_one()
        return conn.execute(select(func.count()).select_from(bo_terminals)).scalar_one(), keys


def _post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    token = csrf_of(client.get(TERMINALS).text)
    return client.post(path, data={"csrf": token, **fields})


def key_file_of(html: str) -> dict[str, Any]:
    found = re.search(r'<textarea id="key-file"[^>]*>([^<]*)</textarea>', html)
    assert found, "no key file in the page"
    return dict(json.loads(unescape(found.group(1))))


def _state(alliance: Alliance, terminal_id: str) -> Any:
    with alliance.office.db.read() as conn:
        return next(s for s in terminal_states(conn) if s.terminal_id == terminal_id)


def test_the_operator_enrols_a_terminal_and_sees_its_key_once(alliance: Alliance) -> None:
    ops = alliance.logged_in("ops")
    before = _rows(alliance)
    answer = _post(ops, TERMINALS, terminal=NEW.lower(), member="shop-a")
    assert answer.status_code == 201, answer.text
    key_file = key_file_of(answer.text)
    key = bytes.fromhex(key_file["key"])
    assert key_file == {"format": KEY_FILE_FORMAT, "terminal_id": NEW, "key": key.hex().upper(),
                        "kcv": key_check_value(key)}
    assert f"MAC key KCV {key_file['kcv']}" in answer.text
    assert _rows(alliance) == (before[0] + 1, before[1] + 1)
    assert _state(alliance, NEW).merchant_id == "shop-a"
    again = ops.get(TERMINALS).text
    assert key_file["key"] not in again.upper() and key_file["kcv"] in again  # once only
    assert f'id="terminal-{NEW}"' in again


@pytest.mark.parametrize(("terminal", "member", "status", "says"), [
    ("12345", "shop-a", 400, "A terminal id is 12 hex digits."),
    ("0000000G0002", "shop-a", 400, "A terminal id is 12 hex digits."),
    (NEW, "shop-z", 400, "No such member."),
    (NEW, "zhang", 400, "Only merchants, banks and insurers have terminals."),
    ("0000000a0001", "shop-b", 409, "This terminal id is enrolled already."),
])
def test_bad_enrolments_say_why_and_write_nothing(alliance: Alliance, terminal: str,
                                                  member: str, status: int, says: str) -> None:
    ops = alliance.logged_in("ops")
    before = _rows(alliance)
    answer = _post(ops, TERMINALS, terminal=terminal, member=member)
    assert answer.status_code == status and says in unescape(answer.text)
    assert 'id="key-file"' not in answer.text and _rows(alliance) == before


def test_the_operator_blocks_and_unblocks_with_a_reason(alliance: Alliance) -> None:
    ops = alliance.logged_in("ops")
    terminal = "0000000A0001"
    blocked = _post(ops, f"{TERMINALS}/{terminal}/block", reason="till stolen <b>")
    assert blocked.status_code == 303 and blocked.headers["location"] == TERMINALS
    state = _state(alliance, terminal)
    assert (state.status, state.changed_by, state.reason, state.changed_at) == (
        TerminalStatus.BLOCKED, "ops", "till stolen <b>", alliance.clock.now)
    html = ops.get(TERMINALS).text
    assert "till stolen &lt;b&gt;" in html and f"{TERMINALS}/{terminal}/unblock" in html
    again = _post(ops, f"{TERMINALS}/{terminal}/block", reason="twice")
    assert again.status_code == 409 and "in that state already" in again.text
    silent = _post(ops, f"{TERMINALS}/{terminal}/unblock", reason="  ")
    assert silent.status_code == 400 and _state(alliance, terminal).blocked
    for nowhere in ("0000000C0009", "not-a-terminal"):
        assert _post(ops, f"{TERMINALS}/{nowhere}/block", reason="x").status_code == 404
    assert _post(ops, f"{TERMINALS}/{terminal}/unblock", reason="found").status_code == 303
    assert _state(alliance, terminal).status is TerminalStatus.ACTIVE


def test_a_merchant_sees_its_own_terminals_status_read_only(alliance: Alliance) -> None:
    ops = alliance.logged_in("ops")
    _post(ops, f"{TERMINALS}/0000000A0001/block", reason="lost")
    mine = alliance.logged_in("shop-a").get(f"{PATH}/merchant").text
    assert 'data-status="blocked"' in mine and "<td>lost</td>" in mine
    assert "/block" not in mine and "/unblock" not in mine
    other = alliance.logged_in("shop-b").get(f"{PATH}/merchant").text
    assert "0000000A0001" not in other and 'data-status="active"' in other


@pytest.mark.parametrize("login", ["shop-a", "zhang", "insurer"])
def test_only_the_operator_reaches_the_page_and_its_forms(alliance: Alliance, login: str) -> None:
    client = alliance.logged_in(login)
    token = csrf_of(client.get(f"{PATH}/password").text)
    before = _rows(alliance)
    assert client.get(TERMINALS).status_code == 404
    assert client.post(TERMINALS, data={"csrf": token, "terminal": NEW,
                                        "member": "shop-a"}).status_code == 404
    assert client.post(f"{TERMINALS}/0000000A0001/block",
                       data={"csrf": token, "reason": "x"}).status_code == 404
    assert _rows(alliance) == before and not _state(alliance, "0000000A0001").blocked


def test_a_form_without_the_session_s_token_is_refused(alliance: Alliance) -> None:
    ops, other = alliance.logged_in("ops"), alliance.logged_in("ops")
    foreign = csrf_of(other.get(TERMINALS).text)
    before = _rows(alliance)
    for token in ("", foreign):
        assert ops.post(TERMINALS, data={"csrf": token, "terminal": NEW,
                                         "member": "shop-a"}).status_code == 403
        assert ops.post(f"{TERMINALS}/0000000A0001/block",
                        data={"csrf": token, "reason": "x"}).status_code == 403
    assert _rows(alliance) == before and not _state(alliance, "0000000A0001").blocked
    assert alliance.client().post(TERMINALS, data={"terminal": NEW}).status_code == 303


def test_the_terminals_page_speaks_chinese(alliance: Alliance) -> None:
    ops = alliance.logged_in("ops")
    ops.headers["accept-language"] = "zh-CN"
    _post(ops, f"{TERMINALS}/0000000A0001/block", reason="遗失")
    html = ops.get(TERMINALS).text
    assert "登记终端" in html and "已停用" in html and "恢复" in html


def test_a_terminal_enrolled_into_wrapped_keys_is_wrapped_under_the_kek(
        alliance: Alliance) -> None:
    kek = bytes(range(32))
    vault = open_vault(alliance.office.db, kek)
    ops = alliance.logged_in("ops")
    before = _rows(alliance)
    unwrapped = _post(ops, TERMINALS, terminal=NEW, member="shop-a")  # served without the KEK
    assert unwrapped.status_code == 503 and _rows(alliance) == before
    alliance.portal.vault = vault
    key = bytes.fromhex(key_file_of(_post(ops, TERMINALS, terminal=NEW,
                                          member="shop-a").text)["key"])
    with alliance.office.db.read() as conn:
        stored = conn.execute(select(svc_terminal_keys.c.mac_key)
                              .where(svc_terminal_keys.c.terminal_id == NEW)).scalar_one()
    assert key not in bytes(stored) and len(stored) == 24
    found = TerminalDirectory(alliance.office.db, vault=vault).get(NEW)
    assert found is not None and found.key == key
