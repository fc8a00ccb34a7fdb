"""Issuer scripts on chip 1: limits (the credit-granting unit), PIN, application block — and forgeries."""

from __future__ import annotations

import datetime as dt

import pytest

from apdu_specs.payment.ac_type import ACType
from apdu_specs.sw import SW
from host.payment.client import PaymentClient
from host.payment.issuer import AuthorisationPolicy, AuthorisationRequest, Issuer
from host.payment.purchase import run_purchase
from host.payment.scripts import (
    application_block,
    application_unblock,
    pin_change,
    pin_unblock,
    set_credit_limit,
    set_offline_limit,
)
from host.payment.terminal import TerminalProfile, build_dol
from tests.payment.cards import CREDIT, DEBIT, VECTOR_IMK, chip1, personalised_card

DAY = dt.date(2025, 3, 14)
ISSUER = Issuer(VECTOR_IMK)


def online(client: PaymentClient, aid: bytes, amount: int = 100) -> AuthorisationRequest:
    """Start a transaction and get an ARQC; return what the issuer would receive."""
    fci = client.select_application(aid)
    values = {0x9F02: amount.to_bytes(6, "big"), 0x5F2A: b"\x01\x56", 0x9F1A: b"\x01\x56",
              0x9F37: b"\x01\x02\x03\x04"}
    options = client.get_processing_options(build_dol(fci.pdol, values))
    card = client.read_application_data(options.afl)
    cdol1 = build_dol(card.cdol1, values)
    first = client.generate_ac(ACType.ARQC, cdol1)
    return AuthorisationRequest.from_transaction(card, options.aip, cdol1, first)


@pytest.fixture
def client() -> PaymentClient:
    return PaymentClient(chip1(personalised_card()))


def test_credit_granting_raises_the_limits(client: PaymentClient) -> None:
    request = online(client, CREDIT.application_aid)
    session = ISSUER.script_session(request)
    for command in (set_offline_limit(session, 80_000), set_credit_limit(session, 5_000_000)):
        assert client.send_script_command(command).ok
    counters = client.read_counters()
    assert (counters.offline_limit, counters.credit_limit) == (80_000, 5_000_000)


def test_debit_application_has_no_credit_limit_to_set(client: PaymentClient) -> None:
    request = online(client, DEBIT.application_aid)
    assert client.send_script_command(set_credit_limit(ISSUER.script_session(request), 1)).sw \
        == SW.REFERENCED_DATA_NOT_FOUND


def test_forged_mac_is_rejected_and_reported(client: PaymentClient) -> None:
    request = online(client, DEBIT.application_aid)
    command = bytearray(set_offline_limit(ISSUER.script_session(request), 9_999_999))
    command[-1] ^= 0x01
    assert client.send_script_command(bytes(command)).sw == SW.SM_DATA_OBJECTS_INCORRECT
    forged_value = bytearray(set_offline_limit(ISSUER.script_session(request), 100))
    forged_value[8] ^= 0xFF  # change the limit, keep the MAC
    assert client.send_script_command(bytes(forged_value)).sw == SW.SM_DATA_OBJECTS_INCORRECT
    assert client.read_counters().offline_limit == DEBIT.offline_limit
    nxt = online(client, DEBIT.application_aid)
    history = ISSUER.verify_arqc(nxt).cvr.history
    assert history.script_failed and history.scripts_processed == 0


def test_script_of_another_transaction_is_useless(client: PaymentClient) -> None:
    old = online(client, DEBIT.application_aid)
    command = set_offline_limit(ISSUER.script_session(old), 1)
    online(client, DEBIT.application_aid)
    assert client.send_script_command(command).sw == SW.SM_DATA_OBJECTS_INCORRECT


def test_scripts_need_an_arqc_and_secure_messaging(client: PaymentClient) -> None:
    request = online(client, DEBIT.application_aid)
    command = set_offline_limit(ISSUER.script_session(request), 1)
    plain = bytes([0x00]) + command[1:]  # CLA without the secure-messaging bit
    assert client.send_script_command(plain).sw == SW.SM_DATA_OBJECTS_MISSING
    client.select_application(DEBIT.application_aid)
    assert client.send_script_command(command).sw == SW.CONDITIONS_NOT_SATISFIED


def test_script_counter_is_reported_in_the_next_cvr(client: PaymentClient) -> None:
    request = online(client, DEBIT.application_aid)
    session = ISSUER.script_session(request)
    assert client.send_script_command(set_offline_limit(session, 30_000)).ok
    assert client.send_script_command(pin_unblock(session)).ok
    history = ISSUER.verify_arqc(online(client, DEBIT.application_aid)).cvr.history
    assert (history.scripts_processed, history.script_failed) == (2, False)


def test_pin_change_and_unblock(client: PaymentClient) -> None:
    for _ in range(3):
        client.select_application(DEBIT.application_aid)
        client.get_processing_options(bytes(4))
        client.verify_pin("0000")
    request = online(client, DEBIT.application_aid)
    session = ISSUER.script_session(request)
    assert client.send_script_command(pin_change(session, "4321")).ok
    client.select_application(DEBIT.application_aid)
    client.get_processing_options(bytes(4))
    assert client.verify_pin("1234").tries_left == 2
    assert client.verify_pin("4321").verified
    request = online(client, DEBIT.application_aid)
    assert client.send_script_command(pin_unblock(ISSUER.script_session(request))).ok
    assert client.read_counters().pin_tries_left == 3


def test_application_block_and_unblock_through_purchases(client: PaymentClient) -> None:
    issuer = Issuer(VECTOR_IMK, policy=AuthorisationPolicy())
    blocked = run_purchase(client, 100, authoriser=lambda r: issuer.authorise(
        r, scripts_after=[application_block]), date=DAY, unpredictable_number=bytes(4))
    assert blocked.approved and all(s.ok for s in blocked.scripts)
    assert client.select_application(DEBIT.application_aid).blocked
    refused = run_purchase(client, 100, aid=DEBIT.application_aid, terminal=TerminalProfile(),
                           date=DAY, unpredictable_number=bytes(4))
    assert refused.final.kind is ACType.AAC and not refused.approved
    rescued = run_purchase(client, 100, aid=DEBIT.application_aid,
                           authoriser=lambda r: issuer.authorise(r, scripts_before=[application_unblock]),
                           date=DAY, unpredictable_number=bytes(4))
    assert rescued.request is not None and ISSUER.verify_arqc(rescued.request).cvr.history.application_blocked
    assert rescued.response.decision.name == "DECLINE"  # the policy declines a blocked card …
    assert not client.select_application(DEBIT.application_aid).blocked  # … and the script unblocked it
