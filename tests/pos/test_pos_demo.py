"""``make demo`` in process (sim mode): the day's story, step by step, as a newcomer reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from host.demo import DemoError, main, run_demo


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    lines: list[str] = []
    document = run_demo("sim", tmp_path_factory.mktemp("demo"), echo=lines.append)
    document["printed"] = "\n".join(lines)
    return document


def _events(story: dict[str, Any], title: str) -> list[dict[str, Any]]:
    (step,) = [s for s in story["steps"] if s["title"] == title]
    return step["events"]


def test_the_day_has_its_numbered_steps(story: dict[str, Any]) -> None:
    assert [s["title"] for s in story["steps"]] == [
        "Issuer keys", "Cards personalised", "The alliance", "The service host", "Morning sales",
        "Midday: batches uploaded", "Afternoon: points spent",
        "Evening: clearing and settlement", "A credit line reaches the card", "Statements",
        "Prepaid cards, insured card by card", "The settlement centre",
        "A personal reader and an order from home", "The portal"]
    printed = story["printed"]
    assert "\n1. Issuer keys\n" in printed and "\n10. Statements\n" in printed
    assert "CNY 5,288.00" in printed and "KEEP THIS SLIP" in printed
    (keys,) = _events(story, "Issuer keys")
    assert set(keys["kcvs"]) >= {"emv-ac", "points-tac"}  # check values, never keys
    assert len(_events(story, "Cards personalised")) == 3


def test_every_terminal_talks_to_the_service_host_over_loopback(story: dict[str, Any]) -> None:
    address, *terminals = _events(story, "The service host")
    assert address["iso"].startswith("127.0.0.1:") and address["http"].startswith("https://127.0.0.1:")
    assert len(terminals) == 5 and all(len(t["key_kcv"]) == 6 for t in terminals)
    log = (Path(story["directory"]) / "service.log").read_text()
    sales = [line for line in log.splitlines() if " 0100 " in line and " rc=00" in line]
    assert len(sales) >= 4  # every approved chip sale was authorised over ISO 8583
    assert "POST /v1/batches 422 batch_rejected" in log  # the hostile upload, at the door
    assert "POST /v1/redemptions 200" in log or "POST /v1/redemptions 201" in log


def test_the_morning_sales(story: dict[str, Any]) -> None:
    sales = [e for e in _events(story, "Morning sales") if "status" in e]
    by = [(e["who"], e["status"], e["amount"]) for e in sales]
    assert by == [("zhang", "approved", 268_50), ("li", "approved", 5_288_00),
                  ("han", "declined", 88_00), ("han", "approved", 88_00),
                  ("han", "declined", 60_000_00), ("zhang", "approved", 45_60)]
    assert sales[2]["message"] == "wrong PIN, 2 tries left"
    assert sales[3]["holder"]["method"] == "credit"  # chosen on the screen
    assert {p["purse"]: p["points"] for p in sales[0]["points"]} == {"consumption": 268,
                                                                    "bank": 134}
    fallback = sales[-1]
    assert fallback["fallback"] and "6F00" in fallback["chip_error"]
    assert [p["purse"] for p in fallback["points"]] == ["consumption"]


def test_batches_clear_once(story: dict[str, Any]) -> None:
    uploads = _events(story, "Midday: batches uploaded")
    assert [e["status"] for e in uploads] == ["created", "exists", "created", "exists",
                                              "rejected"]
    assert uploads[0]["summary"]["payments_fen"] == 268_50


def test_a_hostile_upload_is_refused_on_screen(story: dict[str, Any]) -> None:
    hostile = _events(story, "Midday: batches uploaded")[-1]
    assert hostile["terminal"] == "electronics" and hostile["status"] == "rejected"
    # over the network a batch's records are its sender's: the TACs and the sales give the
    # theft away
    assert {r["reason"] for r in hostile["reasons"]} == {"bad_tac", "sale_at_another_merchant"}
    assert "refused whole" in hostile["text"]


def test_points_are_spent_three_ways(story: dict[str, Any]) -> None:
    spent = _events(story, "Afternoon: points spent")
    assert [(e["kind"], e["status"], e["points"]) for e in spent] == [
        ("points", "approved", 100), ("premium", "approved", 2_000),
        ("conversion", "approved", 50)]
    assert spent[1]["redemption"]["fen"] == 2_000 and spent[1]["policy"]


def test_the_day_is_settled(story: dict[str, Any]) -> None:
    positions = [e for e in _events(story, "Evening: clearing and settlement")
                 if "net_fen" in e]
    assert {p["merchant"] for p in positions} == {"supermarket", "electronics", "bookstore"}
    bookstore = next(p for p in positions if p["merchant"] == "bookstore")
    assert bookstore["points_redeemed"] == 100


def test_the_raised_credit_line_reaches_the_card(story: dict[str, Any]) -> None:
    events = _events(story, "A credit line reaches the card")
    (limits,) = [e for e in events if "limit_before" in e]
    assert (limits["limit_before"], limits["limit_after"]) == (1_000_00, 2_000_00)
    (sale,) = [e for e in events if e.get("kind") == "sale"]
    assert sale["status"] == "approved"  # the new limit is the card's (GET DATA above)


def test_ledger_and_cards_agree(story: dict[str, Any]) -> None:
    holders = [e for e in _events(story, "Statements") if "ledger" in e]
    assert len(holders) == 3
    for holder in holders:
        ledger, card = holder["ledger"], holder["card"]
        assert (ledger["consumption_points"], ledger["bank_points"], ledger["credit_points"]) \
            == (card["consumption"], card["bank"], card["credit"])
    insurer = _events(story, "Statements")[-1]
    assert insurer["money_fen"] == 2_000


def test_the_settlement_centre_tops_up_to_the_cap_after_a_release_by_code(
        story: dict[str, Any]) -> None:
    held, released = _events(story, "The settlement centre")
    assert "release code given" in held["text"]
    assert released["settlement"]["posted"] == 500_000 == released["settlement"]["cap"]
    assert released["virtual"]["posted"] == 0


def test_a_foreign_card_is_refused_and_the_order_prints(story: dict[str, Any]) -> None:
    bound, foreign, order, printed = _events(story, "A personal reader and an order from home")
    assert bound["reader"] == "5244000000000001"
    assert foreign["sw"] == "6A88" and "not bound to this reader" in foreign["text"]
    assert (order["state"], order["held"], order["amount"]) == ("held", 344_00, 344_00)
    from host.slips import decode_escpos

    escpos = Path(printed["escpos"]).read_bytes()
    assert any("WEB-0001" in line for line in decode_escpos(escpos))
    assert any(line.endswith("344.00") for line in printed["slip"])
    assert "张三 ZHANG SAN" in story["printed"] and "  | TOTAL" in story["printed"]
    assert printed["pdf"].endswith("WEB-0001.pdf") and Path(printed["pdf"]).read_bytes()[:4] \
        == b"%PDF"


def test_json_mode_prints_one_document(tmp_path, capsys) -> None:
    assert main(["--json", "--out", str(tmp_path)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["reader"] == "sim" and len(document["steps"]) == 14


def test_an_unknown_reader_is_refused() -> None:
    with pytest.raises(DemoError):
        run_demo("teleport")


def test_the_prepaid_membership_is_split_spent_and_claimed(story: dict[str, Any]) -> None:
    events = _events(story, "Prepaid cards, insured card by card")
    assert [e["value"] for e in events[:3]] == [500_000, 500_000, 234_567]
    assert events[4]["ok"] is True
    assert events[-1]["payout_fen"] == 1_234_567 - 620_000


def test_the_portal_accounts_log_in_to_the_day_s_ledger(story: dict[str, Any]) -> None:
    from host.backoffice.clock import SystemClock
    from host.backoffice.database import Database
    from host.demo import PORTAL_ACCOUNTS
    from host.portal.auth import Accounts

    *accounts, serve = _events(story, "The portal")
    assert [(a["login"], a["role"]) for a in accounts] == [
        (login, role) for login, _, role, _ in PORTAL_ACCOUNTS]
    assert serve["address"] == "http://127.0.0.1:8080/portal/"
    assert "dualcard portal serve --db " in story["printed"]
    db = Database(serve["command"].split("--db ")[1].split()[0])
    try:
        for login, member, _, password in PORTAL_ACCOUNTS:
            assert Accounts(db, clock=SystemClock().now).verify(login, password, "::1").member_id \
                == member
    finally:
        db.dispose()
