"""Batches of simulated cards: the journal, resuming after an interruption, failures that
do not stop the batch, the one that does, dry runs, and what the audit file may hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from host.keystore import KeyFile
from host.perso import (
    AuditJournal,
    AuthenticationError,
    BatchIdentity,
    CardPlan,
    CardSlot,
    HolderRecord,
    Personaliser,
    SimImageTarget,
    batch_origin,
    read_holders_text,
    run_batch,
)
from host.transport.base import CardRemovedError, NoReaderError, Transport, TransportWrapper
from simulator.faults import ForcedSW

from .perso_helpers import personaliser, sample_keys

pytestmark = pytest.mark.sim

NAMES = ["ZHANG/WEI", "LI/NA", "WANG/FANG", "LIU/YANG", "CHEN/JING"]


def _holders(count: int) -> list[HolderRecord]:
    rows = [f"{NAMES[i % len(NAMES)]},C-{200000 + i},,," for i in range(count)]
    return list(read_holders_text("name,holder_id,pan,expiry,card_id\n" + "\n".join(rows) + "\n"))


def _journal(path: Path, perso: Personaliser) -> AuditJournal:
    journal = AuditJournal(path, BatchIdentity(perso.profile.fingerprint, "input-hash",
                                               perso.keys.master_kcvs()))
    journal.open()
    return journal


class InterruptAfter(TransportWrapper):
    """Ctrl-C after ``count`` commands: the operator stopped the batch mid-card."""

    def __init__(self, inner: Transport, count: int) -> None:
        super().__init__(inner)
        self.left = count

    def transmit(self, apdu: bytes) -> bytes:
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return self.inner.transmit(apdu)


class FaultyTarget(SimImageTarget):
    """Fresh simulated cards, some of which misbehave."""

    def __init__(self, out_dir: Path, *, interrupt_row: int | None = None,
                 broken_row: int | None = None, foreign_row: int | None = None,
                 foreign_keys: KeyFile | None = None) -> None:
        super().__init__(out_dir)
        self.interrupt_row, self.broken_row = interrupt_row, broken_row
        self.foreign_row = foreign_row
        self.foreign_keys = foreign_keys

    @contextmanager
    def card(self, plan: CardPlan) -> Iterator[CardSlot]:
        row = plan.card.index + 1
        if row == self.interrupt_row:
            self.wrap = lambda t: InterruptAfter(t, 30)
        else:
            self.wrap = lambda t: t
        with super().card(plan) as slot:
            simulated = slot.simulated
            if row == self.broken_row:
                simulated.chip1.faults.append(ForcedSW(ins=0xE6, sw=0x6A84, times=99))
            if row == self.foreign_row:
                other = personaliser(None, self.foreign_keys)
                other.personalise(other.plan(_holders(row)[-1]), slot.transports)
                slot.fresh = False  # no longer blank: the run must look at it first
            yield slot


def _audit(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_twenty_cards_interrupted_and_resumed(tmp_path: Path) -> None:
    perso = personaliser(tmp_path)
    holders = _holders(20)
    audit = tmp_path / "audit.jsonl"
    out = tmp_path / "cards"
    with pytest.raises(KeyboardInterrupt):
        run_batch(perso, holders, FaultyTarget(out, interrupt_row=8), _journal(audit, perso))
    done = [r for r in _audit(audit) if r["type"] == "card"]
    assert [r["row"] for r in done] == list(range(1, 8))  # card 8 was in progress: no line
    assert len(list(out.glob("*.json"))) == 7
    summary = run_batch(perso, holders, FaultyTarget(out), _journal(audit, perso))
    assert (summary.skipped, summary.issued, summary.failed) == (7, 13, 0)
    cards = [r for r in _audit(audit) if r["type"] == "card"]
    assert sorted(r["row"] for r in cards) == list(range(1, 21))
    assert {r["result"] for r in cards} == {"issued"}
    assert len(list(out.glob("*.json"))) == 20
    mail = (tmp_path / "pins.csv").read_text().splitlines()[1:]
    assert len(mail) == 20 and len({line.split(",")[0] for line in mail}) == 20


def test_a_failing_card_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    perso = personaliser(tmp_path)
    holders = _holders(5)
    audit = tmp_path / "audit.jsonl"
    summary = run_batch(perso, holders, FaultyTarget(tmp_path / "c", broken_row=3),
                        _journal(audit, perso))
    assert (summary.issued, summary.failed) == (4, 1)
    assert summary.failures[0][0] == 3 and "6A84" in summary.failures[0][1]
    failed = [r for r in _audit(audit) if r.get("result") == "failed"]
    assert failed[0]["row"] == 3 and "INSTALL" in failed[0]["reason"]
    assert not (tmp_path / "c" / f"{failed[0]['card_id']}.json").exists()
    # a re-run leaves the failed row alone unless asked to retry it
    again = run_batch(perso, holders, FaultyTarget(tmp_path / "c"), _journal(audit, perso))
    assert (again.skipped, again.skipped_failed, again.ok) == (5, 1, False)
    retry = run_batch(perso, holders, FaultyTarget(tmp_path / "c"), _journal(audit, perso),
                      retry_failed=True)
    assert (retry.issued, retry.skipped) == (1, 4)


def test_an_authentication_failure_stops_the_batch(tmp_path: Path) -> None:
    perso = personaliser(tmp_path)
    audit = tmp_path / "audit.jsonl"
    target = FaultyTarget(tmp_path / "c", foreign_row=2, foreign_keys=sample_keys(seed="other"))
    with pytest.raises(AuthenticationError):
        run_batch(perso, _holders(4), target, _journal(audit, perso))
    cards = [r for r in _audit(audit) if r["type"] == "card"]
    assert [(r["row"], r["result"]) for r in cards] == [(1, "issued"), (2, "failed")]
    assert "AuthenticationError" in cards[1]["reason"]


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    perso = personaliser(tmp_path)
    planned = []
    summary = run_batch(perso, _holders(6), None, None, on_card=planned.append)
    assert summary.planned == 6 and summary.apdus == 6 * 54
    assert list(tmp_path.iterdir()) == []
    assert planned[0].result == "planned" and planned[0].kcvs["chip1.debit.mk_ac"]


def test_audit_and_mailer_hold_no_key_and_audit_no_pin(tmp_path: Path, keys: KeyFile) -> None:
    perso = personaliser(tmp_path, keys)
    holders = _holders(3)
    audit = tmp_path / "audit.jsonl"
    run_batch(perso, holders, SimImageTarget(tmp_path / "c"), _journal(audit, perso))
    audit_text, mail_text = audit.read_text().upper(), (tmp_path / "pins.csv").read_text().upper()
    secrets = [k.value.hex().upper() for k in keys]
    numbers = perso.number(holders, batch_origin(perso.profile, holders))  # the batch's own
    for holder in holders:
        plan = perso.plan(holder, numbers[holder.index])
        for app in plan.apps:
            secrets += [d.value.hex().upper() for d in app.dgis
                        if d.sensitive and len(d.value) >= 16]
    for secret in secrets:
        assert secret not in audit_text and secret not in mail_text
    pins = [line.split(",")[4] for line in mail_text.splitlines()[1:]]
    assert all(len(pin) == 6 and pin.isdigit() for pin in pins)
    records = [r for r in _audit(audit) if r["type"] == "card"]
    for record, pin in zip(records, pins):
        assert "pin" not in record and pin not in record.values()
        assert "*" in record["pan"]


class MisnamedReader(SimImageTarget):
    """A reader named with a typo: nothing matches it (what ``open_card`` raises), so no
    card is reached; ``fixed`` is the corrected name."""

    def __init__(self, out_dir: Path, *, fixed: bool) -> None:
        super().__init__(out_dir)
        self.fixed = fixed

    @contextmanager
    def card(self, plan: CardPlan) -> Iterator[CardSlot]:
        if not self.fixed:
            raise NoReaderError("no reader matches 'Virtul PCD'",
                                ["Virtual PCD 00 00", "Virtual PCD 00 01"])
        with super().card(plan) as slot:
            yield slot


class PulledOut(TransportWrapper):
    """The card (or the reader) goes away after ``answered`` commands."""

    def __init__(self, inner: Transport, answered: int) -> None:
        super().__init__(inner)
        self.left = answered

    def transmit(self, apdu: bytes) -> bytes:
        self.left -= 1
        if self.left < 0:
            raise CardRemovedError("the card was removed")
        return self.inner.transmit(apdu)


def test_a_reader_typo_touches_no_card_and_moves_no_holder(tmp_path: Path) -> None:
    """The mistyped reader: the row stays pending, nothing is issued; the corrected run
    puts row 1's holder on the first card, with the first numbers."""
    perso = personaliser(tmp_path)
    holders = _holders(3)
    audit, out = tmp_path / "audit.jsonl", tmp_path / "cards"
    with pytest.raises(NoReaderError):
        run_batch(perso, holders, MisnamedReader(out, fixed=False), _journal(audit, perso))
    lines = [r for r in _audit(audit) if r["type"] == "card"]
    assert [(r["row"], r["result"], r["reached_card"]) for r in lines] == [(1, "pending", False)]
    assert not out.exists() and not (tmp_path / "pins.csv").exists()
    summary = run_batch(perso, holders, MisnamedReader(out, fixed=True), _journal(audit, perso))
    assert (summary.issued, summary.skipped, summary.failed) == (3, 0, 0)
    issued = [r for r in _audit(audit) if r["type"] == "card" and r["result"] == "issued"]
    assert [(r["row"], r["holder_id"], r["card_id"]) for r in issued] == \
        [(n, f"C-{199999 + n}", f"886000000000000{n}") for n in (1, 2, 3)]
    reached = {r["row"] for r in _audit(audit) if r["type"] == "card" and r["reached_card"]}
    assert reached == {1, 2, 3}


@pytest.mark.parametrize(("answered", "result", "stops"),
                         [(0, "pending", True), (5, "failed", False)])
def test_a_card_gone_before_its_first_answer_is_not_a_failed_card(
        tmp_path: Path, answered: int, result: str, stops: bool) -> None:
    perso = personaliser(tmp_path)
    target = SimImageTarget(tmp_path / "c", wrap=lambda t: PulledOut(t, answered))
    journal = _journal(tmp_path / "audit.jsonl", perso)
    if stops:
        with pytest.raises(CardRemovedError):
            run_batch(perso, _holders(2), target, journal)
    else:
        assert run_batch(perso, _holders(2), target, journal).failed == 2
    lines = [r for r in _audit(tmp_path / "audit.jsonl") if r["type"] == "card"]
    assert (lines[0]["result"], lines[0]["reached_card"]) == (result, not stops)
    assert journal.should_skip(1) is not stops  # a pending row is tried again
