"""The card enforces its binding: only its bound reader, after mutual authentication, opens
payment; other readers, other cards, replays and forged issuer commands are refused."""

from __future__ import annotations

import pytest

from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.cryptogram import TDES_CVN
from apdu_specs.sw import SW, CardError
from host.reader import CardNotBoundHereError, CardProofError, bind, unbind
from tests.payment.cards import CREDIT, DEBIT, personalised_card, tdes

from .helpers import AID, ISSUER, READER_A, READER_B, client, fresh_card, pay, reader


def test_unbound_card_pays_anywhere() -> None:
    binding = client(fresh_card())
    binding.select(AID)
    assert not binding.status().bound
    assert pay(binding) is ACType.ARQC


def test_bound_reader_authenticates_and_pays() -> None:
    card, mine = fresh_card(), reader()
    identity = bind(client(card), AID, ISSUER, mine)
    binding = client(card)
    assert mine.open(binding, AID) == identity
    assert binding.status().reader_id == READER_A
    assert pay(binding) is ACType.ARQC
    binding.select(AID)  # a new selection needs a new authentication
    with pytest.raises(CardError) as refused:
        pay(binding)
    assert refused.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_bound_card_refuses_payment_without_authentication() -> None:
    card = fresh_card()
    bind(client(card), AID, ISSUER, reader())
    binding = client(card)
    binding.select(AID)
    with pytest.raises(CardError) as refused:
        pay(binding)
    assert refused.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_card_in_an_unbound_reader_is_refused() -> None:
    card = fresh_card()
    bind(client(card), AID, ISSUER, reader())
    stranger = reader(READER_B)
    stranger.keys.keys["6200000000000005"] = bytes(16)  # even a reader that guesses a key
    binding = client(card)
    with pytest.raises(CardNotBoundHereError):
        stranger.open(binding, AID)
    with pytest.raises(CardError) as refused:
        pay(binding)
    assert refused.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_bound_reader_refuses_another_card() -> None:
    mine, other_card = reader(), fresh_card()
    bind(client(fresh_card()), AID, ISSUER, mine)
    with pytest.raises(CardNotBoundHereError):
        mine.open(client(other_card), AID)  # the reader has no key for it


def test_bound_reader_refuses_a_card_bound_to_another_reader_with_the_same_pan() -> None:
    """A clone's PAN is not enough: the card must prove the binding key."""
    mine, theirs = reader(), reader(READER_A)
    bind(client(fresh_card()), AID, ISSUER, mine)
    clone = fresh_card()
    bind(client(clone), AID, ISSUER, theirs)  # same reader id, another key
    with pytest.raises(CardProofError):
        mine.open(client(clone), AID)


def test_replayed_confirmation_is_refused() -> None:
    card, mine = fresh_card(), reader()
    bind(client(card), AID, ISSUER, mine)
    recorded: list[bytes] = []
    binding = client(card)
    original = binding.confirm
    binding.confirm = lambda proof: (recorded.append(proof), original(proof))[1]  # type: ignore[method-assign,func-returns-value]
    mine.open(binding, AID)
    fresh = client(card)
    fresh.select(AID)
    with pytest.raises(CardError) as out_of_sequence:
        fresh.confirm(recorded[0])
    assert out_of_sequence.value.sw == SW.CONDITIONS_NOT_SATISFIED
    fresh.authenticate(READER_A, bytes(8))  # a new card nonce: the old answer is wrong
    assert fresh.confirm(recorded[0]) == SW.NVM_CHANGED
    with pytest.raises(CardError):
        pay(fresh)


def test_replayed_bind_command_is_refused() -> None:
    card = fresh_card()
    binding = client(card)
    binding.select(AID)
    identity, status, challenge = binding.identity(), binding.status(), binding.get_challenge()
    command = ISSUER.bind_command(identity, status, challenge, READER_A, bytes(range(16)))
    binding.send_issuer_command(command, "BIND READER")
    unbind(client(card), AID, ISSUER)
    again = client(card)
    again.select(AID)
    again.get_challenge()
    with pytest.raises(CardError) as replay:
        again.send_issuer_command(command, "BIND READER")
    assert replay.value.sw == SW.SM_DATA_OBJECTS_INCORRECT
    assert not again.status().bound


def test_forged_bind_is_refused_and_spends_the_challenge() -> None:
    binding = client(fresh_card())
    binding.select(AID)
    identity, status, challenge = binding.identity(), binding.status(), binding.get_challenge()
    command = bytearray(ISSUER.bind_command(identity, status, challenge, READER_A, bytes(16)))
    command[-1] ^= 1
    with pytest.raises(CardError) as forged:
        binding.send_issuer_command(bytes(command), "BIND READER")
    assert forged.value.sw == SW.SM_DATA_OBJECTS_INCORRECT
    command[-1] ^= 1  # the right MAC, but its challenge is spent
    with pytest.raises(CardError) as spent:
        binding.send_issuer_command(bytes(command), "BIND READER")
    assert spent.value.sw == SW.CONDITIONS_NOT_SATISFIED


def test_rebind_to_a_new_reader_and_unbind() -> None:
    card, lost, new = fresh_card(), reader(), reader(READER_B)
    bind(client(card), AID, ISSUER, lost)
    bind(client(card), AID, ISSUER, new)  # rebind: the lost reader no longer opens it
    with pytest.raises(CardNotBoundHereError):
        lost.open(client(card), AID)
    new.open(client(card), AID)
    unbind(client(card), AID, ISSUER, new)
    binding = client(card)
    binding.select(AID)
    status = binding.status()
    assert (status.bound, status.counter) == (False, 3)
    assert pay(binding) is ACType.ARQC
    assert new.keys.key_for("6200000000000005") is None


def test_binding_is_per_application() -> None:
    card = fresh_card()
    bind(client(card), AID, ISSUER, reader())
    other = client(card)
    other.select(CREDIT.application_aid)
    assert not other.status().bound


def test_a_3des_card_binds_and_authenticates_too() -> None:
    card, mine = personalised_card(tdes(DEBIT)), reader()
    bind(client(card), AID, ISSUER, mine)
    binding = client(card)
    mine.open(binding, AID)
    assert binding.status().cvn == TDES_CVN
    assert pay(binding) is ACType.ARQC


def test_authentication_writes_nothing_to_the_card() -> None:
    """Only BIND and UNBIND write: an authentication torn anywhere loses nothing (and
    wears no memory)."""
    card, mine = fresh_card(), reader()
    bind(client(card), AID, ISSUER, mine)
    card.tear(1, 0)
    try:
        mine.open(client(card), AID)
    finally:
        card.chip1.chip.memory.disarm_tear()
