"""Card and application life cycles, enforced on every command."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.sw import CardError
from cardlib.security_domain import selectable_in_card_state
from cardlib.security_domain.lifecycle import CARD_TRANSITIONS, next_app_state
from host.gp import DGI, CardStates, Subset

from .gp_helpers import ISD, blank, client, tx
from .perso_applet import PERSO_AID, PERSO_LOAD_FILE, PERSO_MODULE

OP_READY, INITIALIZED, SECURED, LOCKED, TERMINATED = 0x01, 0x07, 0x0F, 0x7F, 0xFF
STATES = (OP_READY, INITIALIZED, SECURED, LOCKED, TERMINATED)

ALLOWED = {
    (OP_READY, INITIALIZED), (OP_READY, SECURED), (OP_READY, TERMINATED),
    (INITIALIZED, SECURED), (INITIALIZED, TERMINATED),
    (SECURED, LOCKED), (SECURED, TERMINATED),
    (LOCKED, SECURED), (LOCKED, TERMINATED),
}


def card_state(card) -> int:
    return card.chip1.chip.content.card_state


def card_in(state: int):
    card = blank()
    card.chip1.chip.content.set_card_state(state)
    card.power_on()
    return card


@pytest.mark.parametrize("start", STATES[:-1])
@pytest.mark.parametrize("target", STATES)
def test_gp_card_transitions(start: int, target: int) -> None:
    card = card_in(start)
    gp = client(card)
    if (start, target) in ALLOWED:
        gp.set_card_status(target)
        assert card_state(card) == target
    else:
        with pytest.raises(CardError) as err:
            gp.set_card_status(target)
        assert err.value.sw == 0x6985 and card_state(card) == start


def test_gp_transition_table_matches_the_documented_one() -> None:
    table = {(a, b) for a, targets in CARD_TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(STATES[1:]), max_size=6))
def test_gp_card_state_follows_the_model(requests: list[int]) -> None:
    card = blank()
    gp = client(card)
    model = OP_READY
    for target in requests:
        if model == TERMINATED:
            break
        try:
            gp.set_card_status(target)
        except CardError as err:
            assert err.sw == 0x6985 and (model, target) not in ALLOWED
        else:
            assert (model, target) in ALLOWED
            model = target
        assert card_state(card) == model


def test_gp_unknown_card_state_is_wrong_data() -> None:
    gp = client(blank())
    with pytest.raises(CardError) as err:
        gp.set_card_status(0x03)
    assert err.value.sw == 0x6A80


def test_gp_locked_card_allows_only_reading_unlocking_and_terminating() -> None:
    card = card_in(LOCKED)
    gp = client(card)
    assert gp.get_status(Subset.ISD)[0].state == LOCKED
    for action in (lambda: gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID),
                   lambda: gp.delete(PERSO_AID),
                   lambda: gp.install_for_personalization(PERSO_AID),
                   lambda: gp.store_data([DGI(0x0101, b"x")]),
                   lambda: gp.lock_application(PERSO_AID)):
        with pytest.raises(CardError) as err:
            action()
        assert err.value.sw == 0x6985
    gp.set_card_status(CardStates.SECURED)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)


def test_gp_terminated_card_answers_get_data_only() -> None:
    card = blank()
    gp = client(card)
    gp.set_card_status(CardStates.TERMINATED)
    rt = card.chip1
    rt.power_on()
    assert tx(rt, "80CA9F7F00")[1] == 0x9000
    assert tx(rt, "8050000008" + "00" * 8 + "00")[1] == 0x6985
    assert tx(rt, "00A4040008" + ISD.hex() + "00")[1] == 0x6985


def test_gp_application_life_cycle() -> None:
    card = blank()
    gp = client(card)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID, make_selectable=False)
    select = "00A4040007" + PERSO_AID.hex() + "00"
    assert tx(card.chip1, select)[1] == 0x6A82  # INSTALLED: not selectable
    gp = client(card)
    gp.make_selectable(PERSO_AID)
    gp.set_application_status(PERSO_AID, 0x0F)  # application-specific: PERSONALIZED
    gp.lock_application(PERSO_AID)
    states = {e.aid: e.state for e in gp.get_status(Subset.APPLICATIONS)}
    assert states[PERSO_AID] == 0x8F
    assert tx(card.chip1, select)[1] == 0x6A82  # locked
    gp = client(card)
    gp.unlock_application(PERSO_AID)
    assert {e.aid: e.state for e in gp.get_status(Subset.APPLICATIONS)}[PERSO_AID] == 0x0F
    assert tx(card.chip1, select)[1] == 0x9000


@pytest.mark.parametrize(("current", "requested", "result"), [
    (0x07, 0x80, 0x87), (0x0F, 0x80, 0x8F), (0x87, 0x00, 0x07), (0x07, 0x0F, 0x0F),
    (0x07, 0x00, 0x6985), (0x87, 0x80, 0x6985), (0x03, 0x0F, 0x6985), (0x87, 0x0F, 0x6985),
    (0x07, 0x05, 0x6A80),
])
def test_gp_application_transitions(current: int, requested: int, result: int) -> None:
    from apdu_specs.sw import SWError

    if result > 0xFF:
        with pytest.raises(SWError) as err:
            next_app_state(current, requested)
        assert err.value.sw == result
    else:
        assert next_app_state(current, requested) == result


def test_gp_security_domain_state_is_changed_through_the_card_only() -> None:
    gp = client(blank())
    with pytest.raises(CardError) as err:
        gp.lock_application(ISD)
    assert err.value.sw == 0x6985


def test_gp_selection_rule_of_a_locked_card() -> None:
    assert selectable_in_card_state(LOCKED, True)
    assert not selectable_in_card_state(LOCKED, False)
    assert selectable_in_card_state(SECURED, False)
    assert not selectable_in_card_state(TERMINATED, True)


def test_gp_locked_card_selects_only_its_security_domain() -> None:
    card = blank()
    gp = client(card)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)
    gp.set_card_status(CardStates.SECURED)
    gp.set_card_status(CardStates.CARD_LOCKED)
    assert tx(card.chip1, "00A4040007" + PERSO_AID.hex() + "00")[1] == 0x6A82
