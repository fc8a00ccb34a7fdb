"""The hostile terminal's batches through ``dualcard ledger clear``: each refused with exit
code 8 and its reason per record, nothing posted, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.backoffice.sample_cards import SampleTerminal
from host.cli.exit_codes import ExitCode
from host.cli.ledger_cmds import ledger
from host.records.assets import Asset
from host.records.batch import TerminalBatch
from tests.backoffice.backoffice_helpers import (
    BAKERY_TERMINAL,
    CARD_COUNT,
    T0,
    TEA_TERMINAL,
    SampleAlliance,
    card,
)

AT = ["--at", "2025-03-14T12:00:00+08:00"]


def _declined_sale(tea: SampleTerminal) -> None:
    pay = tea.pay(card(1), 300_000_00, T0, "credit", declined=True)
    tea.load(card(1), 300_000, 300_000_00, T0, payment_ref=pay)


def _points_from_nothing(tea: SampleTerminal) -> None:
    tea.load(card(2), 50_000, 5_000_000, T0, purse=Asset.BANK_POINTS, issuer_id="BANK",
             unpaid=True)


def _bank_points_for_a_credit_sale(tea: SampleTerminal) -> None:
    pay = tea.pay(card(3), 10_000, T0, "credit")
    tea.load(card(3), 10, 10_000, T0, purse=Asset.BANK_POINTS, issuer_id="BANK",
             payment_ref=pay)


CASES: dict[str, tuple[Callable[[SampleTerminal], None], set[str]]] = {
    "declined": (_declined_sale, {"declined_by_card", "sale_declined_by_card"}),
    "from-nothing": (_points_from_nothing, {"load_without_sale"}),
    "wrong-purse": (_bank_points_for_a_credit_sale, {"bank_points_need_a_debit_card_sale"}),
}


@pytest.fixture
def alliance(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sample = SampleAlliance.create(db_url)
    monkeypatch.setenv("DUALCARD_DB", db_url)
    monkeypatch.chdir(tmp_path)
    ids = [card(n) for n in range(1, CARD_COUNT + 1)]
    Path("keys.json").write_text(json.dumps(sample.cards.key_file_data(ids)))
    yield sample
    sample.office.close()


def _clear(batch: TerminalBatch, name: str) -> tuple[int, dict]:
    Path(name).write_text(json.dumps(batch.as_dict()))
    result = CliRunner().invoke(ledger, ["clear", name, "--keys", "keys.json", "--json", *AT])
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}


def _total(sample: SampleAlliance) -> int:
    accounts = sample.office.ledger.accounts([f"C00{n}:{a.value}" for n in range(1, 7)
                                              for a in Asset if a.value.endswith("_points")])
    return sum(abs(a.balance.posted) for a in accounts)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_batch_is_refused_through_the_cli(alliance: SampleAlliance, case: str) -> None:
    make, reasons = CASES[case]
    tea = alliance.terminal(TEA_TERMINAL)
    make(tea)
    code, out = _clear(tea.close_batch(f"HOSTILE-{case}"), f"{case}.json")
    assert code == ExitCode.PARTIAL_BATCH
    assert {r["reason"] for r in out["rejections"]} == reasons
    assert _total(alliance) == 0


def test_another_merchants_redemption_through_the_cli(alliance: SampleAlliance) -> None:
    tea = alliance.terminal(TEA_TERMINAL)
    tea.load(card(4), 200, 200_00, T0)
    tea.spend(card(4), 120, T0)
    honest = tea.close_batch("TEA-1")
    stolen = TerminalBatch("BAKERY-1", BAKERY_TERMINAL, honest.records[-1:])
    code, out = _clear(stolen, "stolen.json")
    # The file form takes the batch's terminal for every record: the TAC, over TEA's
    # terminal, no longer fits.
    assert code == ExitCode.PARTIAL_BATCH and out["rejections"] == [
        {"record": honest.records[-1].record_id, "reason": "bad_tac"}]
    code, out = _clear(honest, "honest.json")
    assert code == 0 and out["redeemed"] == 120
