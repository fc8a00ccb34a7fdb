"""Tear every state-changing payment command after each of its persistent writes.

After power-up the application's whole persistent state must be either what it was
before the command or what the untorn command leaves (commands are atomic), except
where the design writes immediately on purpose (PIN try counter, a failed issuer
authentication, a PIN unblock), whose intermediate states are listed. And the ATC is
never reused: the next transaction's cryptogram carries a larger ATC than any the
torn session could have used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from apdu_specs.payment.ac_type import ACType
from host.payment.card_data import CardData
from host.payment.client import PaymentClient
from host.payment.issuer import AuthorisationRequest, Decision, Issuer
from host.payment.scripts import application_block, pin_change, pin_unblock, set_offline_limit
from host.payment.terminal import build_dol
from host.transport.base import CardRemovedError
from simulator.card import SimulatedCard
from tests.payment.cards import DEBIT, VECTOR_IMK, chip1, personalised_card

AID = DEBIT.application_aid
ISSUER = Issuer(VECTOR_IMK)
VALUES = {0x9F02: (100).to_bytes(6, "big"), 0x5F2A: b"\x01\x56", 0x9F1A: b"\x01\x56",
          0x9F37: b"\x0a\x0b\x0c\x0d", 0x8A: b"00"}


@dataclass
class Ctx:
    client: PaymentClient
    aip: bytes = b""
    card: CardData | None = None
    request: AuthorisationRequest | None = None

    @property
    def cdol1(self) -> list[tuple[int, int]]:
        assert self.card is not None
        return self.card.cdol1

    @property
    def cdol2(self) -> list[tuple[int, int]]:
        assert self.card is not None
        return self.card.cdol2


def app_state(card: SimulatedCard) -> dict[str, Any]:
    store = card.card.chip1.content.instance(AID).store
    keys = store.keys()
    return {key: store.get(key) for key in keys}


def start(card: SimulatedCard) -> Ctx:
    client = PaymentClient(chip1(card))
    fci = client.select_application(AID)
    options = client.get_processing_options(build_dol(fci.pdol, VALUES))
    return Ctx(client, options.aip, client.read_application_data(options.afl))


def selected(card: SimulatedCard) -> Ctx:
    client = PaymentClient(chip1(card))
    client.select_application(AID)
    return Ctx(client)


def with_arqc(card: SimulatedCard) -> Ctx:
    return with_arqc_after(start(card))


def authenticated(card: SimulatedCard) -> Ctx:
    ctx = with_arqc(card)
    assert ctx.client.external_authenticate(
        ISSUER.issuer_authentication_data(ctx.request, Decision.APPROVE))
    return ctx


def pin_tried(card: SimulatedCard) -> Ctx:
    ctx = start(card)
    ctx.client.verify_pin("0000")
    return with_arqc_after(ctx)


def with_arqc_after(ctx: Ctx) -> Ctx:
    cdol1 = build_dol(ctx.cdol1, VALUES)
    first = ctx.client.generate_ac(ACType.ARQC, cdol1)
    ctx.request = AuthorisationRequest.from_transaction(ctx.card, ctx.aip, cdol1, first)
    return ctx


def script(order: Callable[..., bytes], *args: Any) -> Callable[[Ctx], Any]:
    return lambda ctx: ctx.client.send_script_command(order(ISSUER.script_session(ctx.request), *args))


SCENARIOS: dict[str, tuple[Callable[[SimulatedCard], Ctx], Callable[[Ctx], Any], bool]] = {
    # name: (prepare, the torn command, atomic)
    "GET PROCESSING OPTIONS": (selected, lambda c: c.client.get_processing_options(bytes(4)), True),
    "VERIFY wrong PIN": (start, lambda c: c.client.verify_pin("0000"), False),
    "VERIFY right PIN": (start, lambda c: c.client.verify_pin("1234"), False),
    "GENERATE AC (TC)": (start, lambda c: c.client.generate_ac(
        ACType.TC, build_dol(c.cdol1, VALUES)), True),
    "GENERATE AC (ARQC)": (start, lambda c: c.client.generate_ac(
        ACType.ARQC, build_dol(c.cdol1, VALUES)), True),
    "EXTERNAL AUTHENTICATE (wrong ARPC)": (with_arqc, lambda c: c.client.external_authenticate(
        bytes(8)), False),
    "second GENERATE AC (approved)": (authenticated, lambda c: c.client.generate_ac(
        ACType.TC, build_dol(c.cdol2, {**VALUES, 0x91: ISSUER.issuer_authentication_data(
            c.request, Decision.APPROVE)})), True),
    "PUT DATA script": (with_arqc, script(set_offline_limit, 77_700), True),
    "PIN CHANGE script": (with_arqc, script(pin_change, "2468"), True),
    "PIN UNBLOCK script": (pin_tried, script(pin_unblock), False),
    "APPLICATION BLOCK script": (with_arqc, script(application_block), True),
}


@pytest.fixture(scope="module")
def used_card() -> SimulatedCard:
    """A card that has been online once (so offline approvals are possible)."""
    card = personalised_card()
    ctx = authenticated(card)
    second = ctx.client.generate_ac(ACType.TC, build_dol(ctx.cdol2, {
        **VALUES, 0x91: ISSUER.issuer_authentication_data(ctx.request, Decision.APPROVE)}))
    assert second.kind is ACType.TC
    return card


def next_atc(card: SimulatedCard) -> int:
    ctx = start(card)
    return ctx.client.generate_ac(ACType.AAC, build_dol(ctx.cdol1, VALUES)).atc


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_torn_at_every_write(name: str, used_card: SimulatedCard) -> None:
    prepare, command, atomic = SCENARIOS[name]
    reference = used_card.fork()
    prepare(reference)
    before_reference = app_state(reference)
    complete_card = used_card.fork()
    command(prepare(complete_card))
    complete = app_state(complete_card)
    assert complete != before_reference or not atomic, "the command changed nothing"
    tears = 0
    for n in range(40):  # tear point 0: before the first write
        card = used_card.fork()
        ctx = prepare(card)
        before = app_state(card)
        session_atc = before["atc"]
        card.tear(1, n)
        try:
            command(ctx)
        except CardRemovedError:
            tears += 1
        else:
            break
        finally:
            card.chip1.chip.memory.disarm_tear()
        card.power_on()
        after = app_state(card)
        if atomic:
            assert after in (before, complete), f"{name}: inconsistent after a tear at write {n}"
        else:
            assert _allowed_intermediate(name, before, after, complete), f"{name}: tear at {n}"
        assert next_atc(card) > session_atc, f"{name}: ATC reused after a tear at write {n}"
    assert tears >= 1, f"{name} made no persistent write"


def _allowed_intermediate(name: str, before: dict, after: dict, complete: dict) -> bool:
    if after in (before, complete):
        return True
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    if name == "VERIFY right PIN":  # the try is spent before the comparison is known
        return changed == {"pin.tries"} and after["pin.tries"] == before["pin.tries"] - 1
    if name == "PIN UNBLOCK script":  # the counter reset is immediate
        return changed == {"pin.tries"} and after["pin.tries"] == complete["pin.tries"]
    return False
