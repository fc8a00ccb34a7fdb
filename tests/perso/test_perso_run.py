"""One card through the in-process simulator: personalised, secured, read back, mailed."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path

import pytest

from apdu_specs.payment.aids import CREDIT_AID, DEBIT_AID
from apdu_specs.sw import CardError
from cardlib.content import CardLifeCycle
from host.gp import AuthenticationError as GPAuthenticationError
from host.gp import ChannelOptions, GPClient
from host.keystore import KeyFile
from host.payment.stripe import StripeTracks
from host.perso import (
    AlreadyPersonalisedError,
    AuthenticationError,
    CardStateError,
    HolderRecord,
    NumberStore,
    Personaliser,
    ProfileError,
    SimImageTarget,
    VerificationMismatch,
    count_apdus,
    parse_profile,
)
from host.perso.card_keys import CardKeyFactory, factory_key_spec
from host.perso.counting import CountingTransport
from host.perso.verify import verify_card
from host.points.client import PointsClient
from host.transport.base import Transport
from host.transport.sim import sim_transports
from host.transport.t0 import T0Transport
from simulator.blank import new_blank_card
from simulator.card import SimulatedCard
from simulator.faults import ForcedSW
from tests.gp.gp_helpers import Recorder

from .perso_helpers import PROFILE, connect, fresh_card, personaliser, sample_keys

pytestmark = pytest.mark.sim


def test_one_card_end_to_end(perso: Personaliser, holders: list[HolderRecord],
                             tmp_path: Path) -> None:
    plan = perso.plan(holders[0])
    card = fresh_card(plan.card.card_id)
    def encode(tracks: StripeTracks) -> None:
        card.card.stripe.track1, card.card.stripe.track2 = tracks.track1, tracks.track2

    report = perso.personalise(plan, connect(card), stripe=encode)
    assert report.verified and report.stripe_written and not report.resumed
    for chip in (card.chip1, card.chip2):
        assert chip.chip.content.card_state == CardLifeCycle.SECURED
        assert not chip.internal_errors
    assert card.card.stripe.track2.startswith(f";{plan.card.pan}={plan.card.expiry}201")
    assert report.chips[1].installed == ["PSE", "PPSE", "debit", "credit"]
    assert report.chips[2].installed == ["purse"] and report.chips[2].keys_replaced
    # the purse works with the balance the profile gives, under the card's identity
    purse = PointsClient(connect(card)[2])
    assert purse.select().identity == plan.card.card_id
    assert purse.balances()[1] == 1000
    # the PIN went to the mailer, and only there
    mail = (tmp_path / "pins.csv").read_text()
    assert plan.card.pin in mail
    assert set(report.kcvs()) >= {"chip1.isd", "chip2.isd", "chip1.debit.mk_ac",
                                  "chip2.purse.bank.dtk"}


def test_factory_keys_are_gone_and_issuer_keys_are_per_card(
        perso: Personaliser, holders: list[HolderRecord]) -> None:
    kcvs = []
    for holder in holders[:2]:
        plan = perso.plan(holder)
        card = fresh_card(plan.card.card_id)
        kcvs.append(perso.personalise(plan, connect(card)).kcvs()["chip1.isd"])
        client = GPClient(connect(card)[1])
        client.select()
        with pytest.raises(GPAuthenticationError):
            client.open_secure_channel(factory_key_spec(), ChannelOptions(kvn=0xFF))
    assert kcvs[0] != kcvs[1]


def test_another_holders_card_is_refused_and_left_alone(perso: Personaliser,
                                                        holders: list[HolderRecord]) -> None:
    plan = perso.plan(holders[0])
    card = fresh_card(plan.card.card_id)
    perso.personalise(plan, connect(card))
    before = card.snapshot().memories
    with pytest.raises(AlreadyPersonalisedError, match="not with this holder's data"):
        perso.personalise(perso.plan(holders[1]), connect(card))
    after = card.snapshot().memories
    for role in before:  # only the ISD's session counter moves
        changed = {k for k in after[role] if after[role][k] != before[role].get(k)}
        assert changed <= {k for k in after[role] if k.endswith("/seq")}


def test_the_same_holders_issued_card_only_gets_a_new_pin(
        perso: Personaliser, holders: list[HolderRecord], tmp_path: Path) -> None:
    first = perso.plan(holders[0], pin="135790")
    card = fresh_card(first.card.card_id)
    perso.personalise(first, connect(card))
    second = perso.plan(holders[0], pin="246802")
    report = perso.personalise(second, connect(card))
    assert report.resumed and report.verified
    assert report.chips[1].pins_refreshed == ["debit", "credit"]
    assert report.chips[2].pins_refreshed == ["purse"] and not report.chips[2].installed
    purse = PointsClient(connect(card)[2])
    purse.verify_pin("246802")
    lines = (tmp_path / "pins.csv").read_text().splitlines()
    assert lines[-1].endswith(",246802,current")
    assert lines[1:-1] == [f"{first.card.card_id},C-100001,ZHANG/WEI,{first.card.pan[-4:]},,void"]


def test_dry_run_sends_nothing_and_counts_exactly(perso: Personaliser,
                                                  holders: list[HolderRecord]) -> None:
    plan = perso.plan(holders[1])
    estimate = perso.estimate(plan).estimate
    assert estimate is not None and estimate == count_apdus(plan, perso.profile)
    card = fresh_card(plan.card.card_id)
    counters = [CountingTransport(t) for t in sim_transports(card)]
    transports = {n: T0Transport(c) for n, c in enumerate(counters, start=1)}
    for t in transports.values():
        t.connect()
    perso.personalise(plan, transports)
    assert sum(c.count for c in counters) == estimate.total


def test_applications_that_do_not_mark_themselves_get_set_status(
        perso: Personaliser, holders: list[HolderRecord]) -> None:
    """A profile whose applications leave their state to the issuer: SET STATUS per
    application, counted by the dry run, and the card ends the same."""
    profile = dataclasses.replace(perso.profile, applications=tuple(
        dataclasses.replace(app, marks_personalized=False) for app in perso.profile.applications))
    issuer_marked = Personaliser(profile, sample_keys(), numbers=perso.numbers)
    plan = issuer_marked.plan(holders[1])
    card = fresh_card(plan.card.card_id)
    counters = [CountingTransport(t) for t in sim_transports(card)]
    transports = {n: T0Transport(c) for n, c in enumerate(counters, start=1)}
    for t in transports.values():
        t.connect()
    assert issuer_marked.personalise(plan, transports).verified
    sent = sum(c.count for c in counters)
    assert sent == count_apdus(plan, profile).total
    assert sent == count_apdus(perso.plan(holders[1]), perso.profile).total + len(plan.apps)


def test_a_card_the_target_just_made_is_not_looked_at_first(
        perso: Personaliser, holders: list[HolderRecord], tmp_path: Path) -> None:
    """A fresh blank card from the image target: no SELECT and no GET STATUS before the
    work (its state is known), exactly as the estimate counts; the card ends the same."""
    counters: list[CountingTransport] = []
    recorders: list[Recorder] = []

    def wrap(transport: Transport) -> Transport:
        recorders.append(Recorder(transport))
        counters.append(CountingTransport(recorders[-1]))
        return T0Transport(counters[-1])

    plan = perso.plan(holders[2])
    target = SimImageTarget(tmp_path, wrap=wrap, save=False)
    with target.card(plan) as slot:
        assert slot.fresh
        report = perso.personalise(plan, slot.transports, fresh=slot.fresh)
        snapshot = slot.simulated.snapshot()
    assert report.verified
    assert sum(c.count for c in counters) == count_apdus(plan, perso.profile, fresh=True).total
    assert count_apdus(plan, perso.profile).total - count_apdus(
        plan, perso.profile, fresh=True).total == 6  # SELECT ISD, 2 x GET STATUS per chip
    assert all(r.log[0][0][1] == 0x50 for r in recorders)  # INITIALIZE UPDATE first
    for memory in snapshot.memories.values():
        assert memory["card/state"] == CardLifeCycle.SECURED


def test_a_fresh_card_that_is_not_blank_is_refused(perso: Personaliser,
                                                    holders: list[HolderRecord]) -> None:
    plan = perso.plan(holders[0])
    card = fresh_card(plan.card.card_id)
    perso.personalise(plan, connect(card))
    with pytest.raises(CardStateError, match="blank card without the factory keys"):
        perso.personalise(perso.plan(holders[1]), connect(card), fresh=True)


def test_another_issuers_card_is_an_authentication_failure(tmp_path: Path,
                                                           holders: list[HolderRecord]) -> None:
    mine, theirs = personaliser(tmp_path, sample_keys(seed="mine")), personaliser(
        tmp_path, sample_keys(seed="theirs"))
    plan = theirs.plan(holders[0])
    card = fresh_card(plan.card.card_id)
    theirs.personalise(plan, connect(card))
    with pytest.raises(AuthenticationError, match="chip 1: card cryptogram does not match"):
        mine.personalise(mine.plan(holders[0]), connect(card))


def test_an_unknown_key_set_is_reported_before_any_write(perso: Personaliser,
                                                          holders: list[HolderRecord]) -> None:
    card = fresh_card()
    _move_keyset(card, 0xFF, 0x30)
    before = card.snapshot().memories
    with pytest.raises(CardStateError, match="key sets 30 are neither"):
        perso.personalise(perso.plan(holders[0]), connect(card))
    assert card.snapshot().memories == before


def _move_keyset(card: SimulatedCard, old: int, new: int) -> None:
    """Renumber the ISD key set behind the card's back (a card from another issuer)."""
    for rt in card.runtimes().values():
        mem = rt.chip.memory
        for key in [k for k in mem.keys("") if k.endswith(f"keys/{old:02X}")]:
            mem.write_now(key.replace(f"keys/{old:02X}", f"keys/{new:02X}"), mem.read(key))
            mem.delete(key)


def test_read_back_finds_a_changed_record(perso: Personaliser, holders: list[HolderRecord]) -> None:
    plan = perso.plan(holders[0])
    card = fresh_card(plan.card.card_id)
    perso.personalise(plan, connect(card))
    mem = card.chip1.chip.memory
    key = f"app/{CREDIT_AID.hex().upper()}/record/01/01"
    record = mem.read(key)
    mem.write_now(key, record[:-1] + bytes([record[-1] ^ 1]))
    with pytest.raises(VerificationMismatch, match=r"credit.*record 1 of SFI 1 differs"):
        verify_card(connect(card), plan, perso.keys)


def test_read_back_in_the_runs_channel_proves_the_issuer_key_set(
        perso: Personaliser, holders: list[HolderRecord]) -> None:
    """Read in a channel opened with other keys, the read-back asks the card for the
    issuer's key set by INITIALIZE UPDATE: a card without it is a mismatch."""
    plan = perso.plan(holders[0])
    card = fresh_card(plan.card.card_id)
    perso.personalise(plan, connect(card))
    _move_keyset(card, perso.profile.isd_key_version, 0x30)  # the issuer's keys, now as KVN 30
    transports = connect(card)
    session = GPClient(transports[1])
    session.select()
    session.open_secure_channel(perso.keys.isd_spec, ChannelOptions(
        level=0x03, kvn=0x30, algorithm=perso.profile.suite.algorithm))
    with pytest.raises(VerificationMismatch, match=r"chip 1: the issuer's key set: .*6A88"):
        verify_card(transports, plan, perso.keys, sessions={1: session})


def test_a_card_error_names_the_command(perso: Personaliser, holders: list[HolderRecord]) -> None:
    plan = perso.plan(holders[0])
    card = fresh_card(plan.card.card_id)
    card.chip1.faults.append(ForcedSW(ins=0xE6, sw=0x6A84))
    with pytest.raises(CardError, match=r"INSTALL.*6A84"):
        perso.personalise(plan, connect(card))
    # the next run picks up where that one stopped
    report = perso.personalise(perso.plan(holders[0]), connect(card))
    assert report.verified and report.chips[1].installed[0] == "PSE"
    assert DEBIT_AID in {r.aid for r in card.chip1.chip.content.records()}


def test_tdes_profile_needs_tdes_keys(keys: KeyFile) -> None:
    data = copy.deepcopy(tomllib.loads(PROFILE.read_text()))
    data["issuer"]["suite"] = "TDES"
    with pytest.raises(ProfileError, match=r"keys\.isd: key 'isd' is AES"):
        CardKeyFactory(keys, parse_profile(data))


@pytest.mark.parametrize(("suite", "card_suite", "with_payment"),
                         [("TDES", "3DES", True), ("SM4", "SM4", False)])
def test_other_suites(tmp_path: Path, holders: list[HolderRecord], suite: str, card_suite: str,
                      with_payment: bool) -> None:
    data = copy.deepcopy(tomllib.loads(PROFILE.read_text()))
    data["issuer"]["suite"] = suite
    if not with_payment:  # no SM4 payment cryptogram version: a points-only product
        data["chip1"]["applications"], data["magstripe"]["enabled"] = [], False
    perso = Personaliser(parse_profile(data), sample_keys(suite),
                         numbers=NumberStore(tmp_path / "numbers.sqlite3"))
    plan = perso.plan(holders[0])
    card = new_blank_card(plan.card.card_id, suite=card_suite)
    report = perso.personalise(plan, connect(card))
    assert report.verified and report.chips[1].keys_replaced  # chip 1 secured even when empty
    for runtime in card.runtimes().values():
        assert runtime.chip.content.card_state == CardLifeCycle.SECURED
