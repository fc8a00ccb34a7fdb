"""``dualcard prepaid``: one-line errors and non-zero exits, ``--json`` documents (errors
too), and a reconciliation difference exits 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from host.backoffice import Asset, Reason, Source, SourceKind, Transfer
from host.backoffice.prepaid import PrepaidOffice
from host.backoffice.prepaid.accounts import card_account, cny
from host.cli.main import cli
from tests.prepaid.prepaid_helpers import T0, Sample


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'prepaid.sqlite3'}"
    Sample.create(url).office.close()
    return url


def _run(db: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["prepaid", *args, "--db", db], catch_exceptions=False)


def test_issue_and_pay_print_json_documents(db: str) -> None:
    issued = _run(db, "issue", "B1", "--program", "GYM-FIT", "--holder", "C001",
                  "--amount", "12,345.67", "--at", "2025-03-14T10:00:00+08:00", "--json")
    assert issued.exit_code == 0
    document = json.loads(issued.stdout)
    assert document["amount"] == 1_234_567 and len(document["cards"]) == 3
    paid = _run(db, "pay", "P1", "--account", "C001/GYM-FIT", "--amount", "100.5", "--json",
                "--at", "2025-03-14T11:00:00+08:00")
    assert json.loads(paid.stdout)["charged"] == 10_050


@pytest.mark.parametrize(("args", "code", "words"), [
    (("issue", "B1", "--program", "NOPE", "--holder", "C001", "--amount", "10"), 1,
     "no prepaid program 'NOPE'"),
    (("issue", "B1", "--program", "GYM-FIT", "--holder", "C001", "--amount", "0"), 2,
     "prepaid amount must be"),
    (("issue", "B1", "--program", "GYM-FIT", "--holder", "C001", "--amount", "-3"), 2,
     "not an amount in yuan"),
    (("pay", "P1", "--account", "C001/GYM-FIT"), 2, "give --amount or --uses"),
    (("pay", "P1", "--account", "C404/GYM-FIT", "--amount", "1"), 1, "no prepaid account"),
    (("claim", "pay", "NOPE"), 1, "no claim 'NOPE'"),
    (("program", "add", "X", "--merchant", "GYM", "--insurer", "PICC", "--cap", "0"), 2,
     "card cap"),
    (("program", "add", "X", "--merchant", "GYM", "--insurer", "PICC", "--cap", "500",
      "--anonymous-cap", "1000"), 2, "above the registered card cap"),
    (("program", "add", "X", "--merchant", "GYM", "--insurer", "PICC",
      "--anonymous-cap", "0"), 2, "anonymous card cap must be"),
    (("rate", "add", "R", "--insurer", "PICC", "--insured-to", "10", "--rate-bp", "10001"), 2,
     "rate (bp) must be"),
    (("rate", "add", "R", "--insurer", "GYM", "--insured-to", "10", "--rate-bp", "10"), 2,
     "GYM is not an insurer"),
])
def test_errors_are_one_line_and_exit_non_zero(db: str, args: tuple[str, ...], code: int,
                                               words: str) -> None:
    result = _run(db, *args)
    assert result.exit_code == code
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert words in error and "Traceback" not in result.stderr
    as_json = _run(db, *args, "--json")
    assert as_json.exit_code == code and words in json.loads(as_json.stdout)["error"]


def test_a_reconciliation_difference_exits_one(db: str) -> None:
    issued = _run(db, "issue", "B1", "--program", "GYM-FIT", "--holder", "C001",
                  "--amount", "100", "--at", "2025-03-14T10:00:00+08:00", "--json")
    card = json.loads(issued.stdout)["cards"][0]["card"]
    assert _run(db, "reconcile", "--date", "2025-03-14").exit_code == 0
    prepaid = PrepaidOffice(db)
    prepaid.ledger.post_all([Transfer.single(
        "op-1", card_account(card), cny("GYM"), 1, Asset.CNY, Reason.ADJUSTMENT,
        Source(SourceKind.OPERATOR, "x"))], at=T0)
    prepaid.close()
    result = _run(db, "reconcile", "--date", "2025-03-14")
    assert result.exit_code == 1 and "DIFFERENCE" in result.stdout


def test_an_anonymous_issue_and_the_rate_table_as_json(db: str) -> None:
    added = _run(db, "rate", "add", "ANON", "--insurer", "PICC", "--insured-to", "1000",
                 "--holder-kind", "anonymous", "--rate-bp", "150", "--json")
    assert json.loads(added.stdout)["status"] == "created"
    listed = json.loads(_run(db, "rate", "list", "--json").stdout)
    assert listed == [{"insurer": "PICC", "row": "ANON", "term_from": 1, "term_to": 36_500,
                       "insured_from": 0, "insured_to": 100_000,
                       "holder_kind": "anonymous", "rate_bp": 150}]
    issued = _run(db, "issue", "A1", "--program", "GYM-FIT", "--holder", "C001", "--amount",
                  "1500", "--holder-kind", "anonymous", "--json")
    document = json.loads(issued.stdout)
    assert document["holder_kind"] == "anonymous" and document["card_cap"] == 100_000
    assert [c["rate_row"] for c in document["cards"]] == ["ANON", "ANON"]
    registered = _run(db, "issue", "R1", "--program", "GYM-FIT", "--holder", "C002",
                      "--amount", "10")
    assert registered.exit_code == 1 and "has no row" in registered.stderr


def test_an_unknown_holder_kind_is_a_usage_error(db: str) -> None:
    result = _run(db, "issue", "A1", "--program", "GYM-FIT", "--holder", "C001", "--amount",
                  "10", "--holder-kind", "guest")
    assert result.exit_code == 2 and "'guest' is not one of" in result.stderr
    assert "Traceback" not in result.stderr
