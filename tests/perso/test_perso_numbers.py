"""Card numbers from the issuer's number store: never given twice — across batches, runs,
processes and resumed batches — explicit numbers claimed, replacement cards, the store's
own checks; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from apdu_specs.crypto.luhn import is_valid
from host.cli.perso_cmds import perso
from host.perso import (
    AuditJournal,
    BatchIdentity,
    HolderRecord,
    NumberInUseError,
    NumberStore,
    NumberStoreError,
    Profile,
    SimImageTarget,
    batch_origin,
    read_holders_text,
    run_batch,
)
from host.perso.numbering import perso_cards

from .perso_helpers import PROFILE, personaliser
from .test_perso_batch import FaultyTarget

ROOT = Path(__file__).resolve().parents[2]


def _holders(*ids: str, extra: str = "") -> list[HolderRecord]:
    rows = "".join(f"HOLDER/{i},{i},{extra}\n" for i in ids) if extra else \
        "".join(f"HOLDER/{i},{i}\n" for i in ids)
    header = "name,holder_id,pan\n" if extra else "name,holder_id\n"
    return list(read_holders_text(header + rows))


def _cards(store: NumberStore) -> list[dict[str, object]]:
    with store.db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(perso_cards)
                                                        .order_by(perso_cards.c.card_id))]


def _run(*args: str) -> Result:
    return CliRunner().invoke(perso, list(args), catch_exceptions=False)


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    assert _run("keys", "new", "--out", str(path), "--plaintext").exit_code == 0
    return path


# --- the store ------------------------------------------------------------------------------


@pytest.mark.sim
def test_a_second_batch_from_another_file_gets_new_numbers(tmp_path: Path, keyfile: Path,
                                                           db_url: str) -> None:
    """The operator's report: two CSV files, two batches, the same numbers. Not any more —
    on an SQLite file and on a shared PostgreSQL alike; a lone holder's run draws on too."""
    issued: list[dict[str, str]] = []
    for name, ids in (("first", ["C-1", "C-2", "C-3"]), ("second", ["D-1", "D-2"])):
        csv = tmp_path / f"{name}.csv"
        csv.write_text("name,holder_id\n" + "".join(f"HOLDER/{i},{i}\n" for i in ids))
        out = tmp_path / name
        result = _run("batch", "--profile", str(PROFILE), "--keys", str(keyfile), "--input",
                      str(csv), "--out-dir", str(out), "--numbers", db_url)
        assert result.exit_code == 0, result.output
        issued += [r for r in map(json.loads, (out / "audit.jsonl").read_text().splitlines())
                   if r["type"] == "card"]
    card_ids = [r["card_id"] for r in issued]
    assert card_ids == [f"886000000000000{n}" for n in range(1, 6)]
    lone = _run("run", "--reader", f"sim:{tmp_path / 'x.json'}", "--profile", str(PROFILE),
                "--keys", str(keyfile), "--numbers", db_url, "--dry-run", "--json",
                "--holder", '{"name": "DOE/JANE", "holder_id": "X-1"}')
    assert json.loads(lone.stdout)["card_id"] == "8860000000000006"
    row = _run("run", "--reader", f"sim:{tmp_path / 'x.json'}", "--profile", str(PROFILE),
               "--keys", str(keyfile), "--numbers", db_url, "--dry-run", "--json",
               "--input", str(tmp_path / "second.csv"), "--holder-row", "2")
    assert json.loads(row.stdout)["card_id"] == "8860000000000005"  # the batch's row 2
    with NumberStore(db_url) as store:
        rows = _cards(store)
    assert [r["card_id"] for r in rows] == card_ids  # the dry run kept nothing
    pans = [str(r["pan"]) for r in rows]
    assert len(set(pans)) == 5 and all(is_valid(p) and p.startswith("622202") for p in pans)
    assert {r["state"] for r in rows} == {"issued"}


@pytest.mark.slow
def test_two_processes_on_one_store_never_draw_the_same_number(tmp_path: Path,
                                                               db_url: str) -> None:
    """Two operators' processes allocating at the same moment from one store."""
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-m", "tests.perso.numbers_worker", db_url,
                                 name, "24", str(go)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("east", "west")]
    given_out = []
    try:
        while not all(go.with_name(f"go.{name}").exists() for name in ("east", "west")):
            assert all(w.poll() is None for w in workers), "a worker ended early"
            time.sleep(0.01)
        go.touch()
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            given_out.append([tuple(pair) for pair in json.loads(out)])
    finally:  # a failed worker leaves no other one running behind the test
        for worker in workers:
            worker.kill()
            worker.communicate()
    both = given_out[0] + given_out[1]
    assert len(given_out[0]) == len(given_out[1]) == 60
    assert len({card for card, _ in both}) == len(both)
    assert len({pan for _, pan in both}) == len(both)
    with NumberStore(db_url) as store:
        assert sorted((str(r["card_id"]), str(r["pan"])) for r in _cards(store)) == sorted(both)


_OPS = st.lists(st.one_of(
    st.tuples(st.just("batch"), st.integers(0, 3), st.integers(1, 4), st.booleans()),
    st.tuples(st.just("claim"), st.integers(1, 30), st.integers(0, 99), st.booleans())),
    min_size=1, max_size=14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OPS)
def test_any_sequence_of_allocations_gives_each_number_once(profile: Profile,
                                                            ops: list[tuple]) -> None:
    """Batches asking again get what they hold; claims of a taken number are refused, of a
    free one kept; drawn numbers step over claimed ones; no PAN or card id twice."""
    pan_range = profile.card.pan_range
    assert pan_range is not None
    held: dict[tuple[str, str], tuple[str, str]] = {}
    with NumberStore("sqlite://") as store:
        for kind, a, b, issue in ops:
            if kind == "batch":
                origin, holders = f"batch:{a}", _holders(*(f"H-{i}" for i in range(b)))
            else:
                origin = f"claim:{a}-{b}"
                holders = _holders(f"K-{b}", extra=pan_range.pan_at(a))
            taken = {pan for pan, _ in held.values()}
            if kind == "claim" and (origin, f"K-{b}") not in held and holders[0].pan in taken:
                with pytest.raises(NumberInUseError, match="is already card"):
                    store.allocate(profile, holders, origin)
                continue
            numbers = store.allocate(profile, holders, origin)
            for holder in holders:
                got = (numbers[holder.index].pan, numbers[holder.index].card_id)
                assert held.setdefault((origin, holder.holder_id), got) == got
                if issue:
                    store.mark_issued(got[1])
        pans, card_ids = [p for p, _ in held.values()], [c for _, c in held.values()]
        assert len(set(pans)) == len(pans) and len(set(card_ids)) == len(card_ids)
        assert sorted(str(r["card_id"]) for r in _cards(store)) == sorted(card_ids)


@pytest.mark.sim
def test_an_interrupted_batch_resumes_without_issuing_anything_twice(tmp_path: Path) -> None:
    perso = personaliser(tmp_path)
    store = perso.numbers
    assert store is not None
    holders = _holders(*(f"C-{i}" for i in range(1, 9)))
    audit, out = tmp_path / "audit.jsonl", tmp_path / "cards"
    identity = BatchIdentity(perso.profile.fingerprint, "input", perso.keys.master_kcvs())

    def journal() -> AuditJournal:
        opened = AuditJournal(audit, identity)
        opened.open()
        return opened

    with pytest.raises(KeyboardInterrupt):
        run_batch(perso, holders, FaultyTarget(out, interrupt_row=4), journal())
    before = {str(r["holder_id"]): r for r in _cards(store)}
    assert len(before) == 8  # the whole batch was numbered once, up front
    assert [before[f"C-{i}"]["state"] for i in range(1, 9)] == ["issued"] * 3 + ["allocated"] * 5
    summary = run_batch(perso, holders, FaultyTarget(out), journal())
    assert (summary.skipped, summary.issued) == (3, 5)
    after = {str(r["holder_id"]): r for r in _cards(store)}
    assert {h: r["card_id"] for h, r in after.items()} == \
        {h: r["card_id"] for h, r in before.items()}  # row 4 got its numbers back
    assert {r["state"] for r in after.values()} == {"issued"}
    assert sorted(p.stem for p in out.glob("*.json")) == sorted(str(r["card_id"])
                                                                for r in after.values())
    mail = (tmp_path / "pins.csv").read_text().splitlines()[1:]
    assert len(mail) == 8 and all(line.endswith(",current") for line in mail)


@pytest.mark.sim
def test_a_lost_issued_mark_is_restored_from_the_journal_and_a_wrong_store_refused(
        tmp_path: Path) -> None:
    perso = personaliser(tmp_path)
    store = perso.numbers
    assert store is not None
    holders = _holders("C-1", "C-2", "C-3")
    audit = tmp_path / "audit.jsonl"
    identity = BatchIdentity(perso.profile.fingerprint, "input", perso.keys.master_kcvs())
    journal = AuditJournal(audit, identity)
    journal.open()
    with pytest.raises(KeyboardInterrupt):
        run_batch(perso, holders, FaultyTarget(tmp_path / "c", interrupt_row=3), journal)
    with store.db.write() as conn:  # a power cut took the (unflushed) marks with it
        conn.execute(update(perso_cards).values(state="allocated"))
    journal = AuditJournal(audit, identity)
    journal.open()
    run_batch(perso, holders, FaultyTarget(tmp_path / "c"), journal)
    assert {r["state"] for r in _cards(store)} == {"issued"}
    other = personaliser(tmp_path / "elsewhere")  # the same keys, another store
    journal = AuditJournal(audit, identity)
    journal.open()
    with pytest.raises(NumberStoreError, match="the store the batch began with"):
        run_batch(other, holders, SimImageTarget(tmp_path / "c"), journal)


@pytest.mark.sim
def test_a_number_already_issued_is_refused_before_any_card(tmp_path: Path,
                                                            keyfile: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text("name,holder_id,pan\nLI/NA,C-1,6222030000000071\n")
    args = ("batch", "--profile", str(PROFILE), "--keys", str(keyfile), "--input")
    assert _run(*args, str(first), "--out-dir", str(tmp_path / "a")).exit_code == 0
    second = tmp_path / "second.csv"
    second.write_text("name,holder_id,card_id\nWANG/FANG,C-2,\n"
                      "ZHANG/WEI,C-3,8860000000000001\n")
    refused = _run(*args, str(second), "--out-dir", str(tmp_path / "b"))
    assert refused.exit_code == 2
    assert "holder row 2 (C-3): card id 8860000000000001 is already card 8860000000000001's " \
           "(issued)" in refused.output
    lines = (tmp_path / "b" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["batch"]  # before the first card
    assert not list((tmp_path / "b").glob("*.json"))


# --- replacement cards and issued numbers ----------------------------------------------------


@pytest.mark.sim
def test_a_replacement_card_keeps_the_pan_with_new_keys_and_a_new_card_id(
        tmp_path: Path, keyfile: Path) -> None:
    base = ("--profile", str(PROFILE), "--keys", str(keyfile), "--pin-mailer",
            str(tmp_path / "pins.csv"), "--json", "--holder")

    def run(image: Path, holder: str, *more: str) -> Result:
        return _run("run", "--reader", f"sim:{image}", *base, holder, *more)

    holder = '{"name": "DOE/JANE", "holder_id": "X-1"}'
    first = run(_blank(tmp_path / "lost.json"), holder)
    assert first.exit_code == 0, first.output
    lost_card = json.loads(first.stdout)
    blank = _blank(tmp_path / "new.json")
    again = run(blank, holder)  # the holder's numbers are on the lost card: not on this one
    assert again.exit_code == 1 and "already issued and this card is not it" in again.output
    assert blank.read_text() == _blank(tmp_path / "ref.json").read_text()  # nothing written
    new = run(blank, holder, "--replaces", lost_card["card_id"])
    assert new.exit_code == 0, new.output
    card = json.loads(new.stdout)
    assert card["pan"] == lost_card["pan"] and card["card_id"] != lost_card["card_id"]
    assert card["kcvs"]["chip1.debit.mk_ac"] != lost_card["kcvs"]["chip1.debit.mk_ac"]
    with NumberStore(keyfile.with_name("keys.numbers.sqlite3")) as store:
        rows = {str(r["card_id"]): r for r in _cards(store)}
    assert rows[card["card_id"]]["psn"] == "03"  # debit 01 and credit 02 were the lost card's
    assert rows[card["card_id"]]["replaces"] == lost_card["card_id"]
    other = run(blank, '{"name": "ROE/JOHN", "holder_id": "X-2"}', "--replaces",
                lost_card["card_id"])
    assert other.exit_code == 2 and "belongs to holder X-1, not X-2" in other.output


def _blank(path: Path) -> Path:
    from host.transport.sim import blank_card

    blank_card("8860000000000999").save(path)
    return path


# --- the holders file -----------------------------------------------------------------------


def test_a_holder_twice_in_one_file_is_refused_naming_both_lines(tmp_path: Path,
                                                                 keyfile: Path) -> None:
    csv = tmp_path / "holders.csv"
    csv.write_text("name,holder_id\nLI/NA,C-1\nWANG/FANG,C-2\nLI/NA,C-1\n")
    result = _run("batch", "--profile", str(PROFILE), "--keys", str(keyfile), "--input",
                  str(csv), "--out-dir", str(tmp_path / "cards"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {csv} line 4, column 'holder_id': 'C-1' is already on line 2: one card "
        "per holder in a holders file"]
    assert not keyfile.with_name("keys.numbers.sqlite3").exists()  # refused before numbering


def test_batch_origin_is_the_profile_and_the_records(profile: Profile) -> None:
    one, two = _holders("C-1", "C-2"), _holders("C-1", "C-3")
    assert batch_origin(profile, one) == batch_origin(profile, _holders("C-1", "C-2"))
    assert batch_origin(profile, one) != batch_origin(profile, two)


def test_a_reservation_follows_the_holders_own_numbers_until_it_is_issued(
        profile: Profile) -> None:
    """A lone holder whose first attempt touched no card may come back with corrected
    numbers: the reservation is given back. Once issued, the numbers are the card's."""
    pan_range = profile.card.pan_range
    assert pan_range is not None
    first, fixed = pan_range.pan_at(40), pan_range.pan_at(41)
    with NumberStore("sqlite://") as store:
        store.allocate(profile, _holders("X-1", extra=first), "run")
        again = store.allocate(profile, _holders("X-1", extra=fixed), "run")[0]
        assert again.pan == fixed and not again.issued
        assert [r["pan"] for r in _cards(store)] == [fixed]  # the first PAN is free again
        other = store.allocate(profile, _holders("X-2", extra=first), "run")[0]
        assert other.pan == first
        store.mark_issued(other.card_id)
        with pytest.raises(NumberInUseError, match="was issued to this holder with other"):
            store.allocate(profile, _holders("X-2", extra=fixed), "run")
        assert store.allocate(profile, _holders("X-2"), "run")[0].issued
