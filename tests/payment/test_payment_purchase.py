"""End-to-end chip purchases on chip 1 through the in-process transport, and the issuer's checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from apdu_specs.payment.ac_type import ACType
from apdu_specs.sw import CardError
from host.payment.client import PaymentClient
from host.payment.errors import ARQCError
from host.payment.issuer import AuthorisationPolicy, Decision, Issuer
from host.payment.purchase import run_purchase
from host.payment.terminal import TerminalProfile
from host.transport.sim import SimTransport
from host.transport.t0 import T0Transport
from tests.payment.cards import CREDIT, DEBIT, VECTOR_IMK, chip1, personalised_card, tdes
from tests.wrong_le import Exchanges, WrongLe

DAY = dt.date(2025, 3, 14)
UN = bytes.fromhex("A1B2C3D4")


def purchase(client: PaymentClient, amount: int, **kw):
    return run_purchase(client, amount, unpredictable_number=UN, date=DAY, **kw)


@pytest.fixture(params=["AES", "3DES"])
def client(request) -> PaymentClient:
    debit = DEBIT if request.param == "AES" else tdes(DEBIT)
    return PaymentClient(chip1(personalised_card(debit, CREDIT)))


def test_directory_lists_both_applications_by_priority(client: PaymentClient) -> None:
    apps = client.list_applications()
    assert [(a.label, a.priority) for a in apps] == [("DUALCARD DEBIT", 1), ("DUALCARD CREDIT", 2)]
    assert [a.aid.hex().upper() for a in apps] == ["F0000000010101", "F0000000010102"]


def test_ppse_lists_the_same_applications() -> None:
    card = personalised_card()
    client = PaymentClient(chip1(card))
    assert client._ppse_applications() == client.list_applications()


def test_online_approval_then_offline_approval(client: PaymentClient) -> None:
    issuer = Issuer(VECTOR_IMK)
    first = purchase(client, 1234, pin="1234", authoriser=issuer.authorise)
    assert first.approved and first.first.kind is ACType.ARQC  # a new card goes online
    assert first.issuer_authenticated and first.pin.verified
    assert first.final.kind is ACType.TC
    issuer.verify_second_cryptogram(first.request, first.second, first.cdol2_data)
    counters = client.read_counters()
    assert (counters.atc, counters.last_online_atc, counters.pin_tries_left) == (1, 1, 3)
    second = purchase(client, 500, pin="1234", authoriser=issuer.authorise,
                      terminal=TerminalProfile(floor_limit=1000))
    assert second.approved and second.first.kind is ACType.TC and second.second is None


def test_issuer_decline_and_referral() -> None:
    client = PaymentClient(chip1(personalised_card()))
    issuer = Issuer(VECTOR_IMK, policy=AuthorisationPolicy(approve_up_to=1000, refer_up_to=5000))
    refused = purchase(client, 3000, pin="1234", authoriser=issuer.authorise)
    assert refused.response.decision is Decision.REFERRAL and not refused.approved
    assert refused.final.kind is ACType.AAC
    declined = purchase(client, 9000, authoriser=issuer.authorise)
    assert declined.response.decision is Decision.DECLINE and not declined.approved
    assert declined.issuer_authenticated  # a genuine decline still authenticates the issuer


def test_offline_limit_forces_online_and_offline_only_terminal_declines() -> None:
    client = PaymentClient(chip1(personalised_card()))
    issuer = Issuer(VECTOR_IMK)
    assert purchase(client, 100, authoriser=issuer.authorise).approved
    big = purchase(client, DEBIT.offline_limit + 1)  # no authoriser: the terminal is offline
    assert big.first.kind is ACType.ARQC and big.final.kind is ACType.AAC
    small = purchase(client, 100)
    assert small.approved and small.first.kind is ACType.TC


def test_upper_consecutive_offline_limit() -> None:
    profile = replace(DEBIT, lower_consecutive_offline=0, upper_consecutive_offline=2)
    client = PaymentClient(chip1(personalised_card(profile)))
    outcomes = [purchase(client, 10).final.kind for _ in range(4)]
    assert outcomes == [ACType.TC, ACType.TC, ACType.AAC, ACType.AAC]


def test_wrong_pin_is_data_and_blocks_after_the_limit() -> None:
    client = PaymentClient(chip1(personalised_card()))
    results = [purchase(client, 10, pin="0000").pin for _ in range(3)]
    assert [(r.verified, r.tries_left, r.blocked) for r in results] == [
        (False, 2, False), (False, 1, False), (False, 0, True)]
    again = purchase(client, 10, pin="1234")
    assert again.pin.blocked and not again.pin.verified
    assert again.first.issuer_application_data.cvr.history.pin_try_limit_exceeded


def test_credit_limit_is_readable_and_a_debit_has_none() -> None:
    client = PaymentClient(chip1(personalised_card()))
    client.select_application(CREDIT.application_aid)
    assert client.read_counters().credit_limit == CREDIT.credit_limit
    client.select_application(DEBIT.application_aid)
    assert client.read_counters().credit_limit is None


def test_issuer_rejects_an_altered_request() -> None:
    client = PaymentClient(chip1(personalised_card()))
    issuer = Issuer(VECTOR_IMK)
    seen = []

    def tampering(request):
        seen.append(request)
        return issuer.authorise(replace(request, cdol1_data=b"\x01" + request.cdol1_data[1:]))

    with pytest.raises(ARQCError):
        purchase(client, 100_00, authoriser=tampering)
    assert issuer.verify_arqc(seen[0]).cvr.first_ac is ACType.ARQC


def test_out_of_sequence_commands_are_refused() -> None:
    client = PaymentClient(chip1(personalised_card()))
    client.select_application(DEBIT.application_aid)
    with pytest.raises(CardError) as err:
        client.generate_ac(ACType.TC, bytes(29))
    assert err.value.sw == 0x6985
    with pytest.raises(CardError) as err:
        client.verify_pin("1234")
    assert err.value.sw == 0x6985
    client.get_processing_options(bytes(4))
    with pytest.raises(CardError) as err:
        client.get_processing_options(bytes(4))
    assert err.value.sw == 0x6985
    with pytest.raises(CardError) as err:
        client.generate_ac(ACType.TC, bytes(28))
    assert err.value.sw == 0x6700


def test_gpo_with_wrong_pdol_data_length() -> None:
    client = PaymentClient(chip1(personalised_card()))
    client.select_application(DEBIT.application_aid)
    with pytest.raises(CardError) as err:
        client.get_processing_options(b"")
    assert err.value.sw == 0x6700


@pytest.mark.parametrize("ins", [0xA8, 0xAE])  # GET PROCESSING OPTIONS, both GENERATE ACs
def test_a_wrong_le_resent_by_the_transport_runs_each_command_once(ins: int) -> None:
    card = personalised_card()
    seen = Exchanges(SimTransport(card.chip1, "sim#chip1"))
    link = WrongLe(T0Transport(seen), ins, 0x05, times=2)
    link.connect()
    client, issuer = PaymentClient(link), Issuer(VECTOR_IMK)
    outcome = purchase(client, 1234, authoriser=issuer.authorise)
    assert outcome.approved and outcome.issuer_authenticated
    issuer.verify_second_cryptogram(outcome.request, outcome.second, outcome.cdol2_data)
    answers = [sw for i, sw in seen.seen if i == ins]
    assert answers[0] >> 8 == 0x6C and answers[1] == 0x9000  # the card asked, the host re-sent
    counters = client.read_counters()
    assert (counters.atc, counters.last_online_atc) == (1, 1)  # one transaction, counted once


def test_gpo_rolled_back_by_a_wrong_le_never_leads_to_a_cryptogram() -> None:
    card = personalised_card()
    client = PaymentClient(chip1(card))
    client.select_application(DEBIT.application_aid)
    raw = card.chip1.transmit(bytes.fromhex("80A80000068304015601560 1".replace(" ", "")))
    assert raw == b"\x6C\x08"  # wrong Le: the runtime rolled the ATC increment back
    assert client.read_counters().atc == 0
    with pytest.raises(CardError) as err:  # the session's ATC was never committed
        client.generate_ac(ACType.TC, bytes(29))
    assert err.value.sw == 0x6985
