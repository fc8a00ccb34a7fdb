"""The authentication centre (F22) through both doors on loopback, on SQLite and PostgreSQL:
online PIN against the PVV the card was issued with (tries counted in the database), the
holder's delivery address, and the amount against the live credit line."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from apdu_specs.crypto.cvv import pvv
from apdu_specs.crypto.pin_blocks import encipher_format_0
from host.backoffice import Asset, Member, MemberKind, Ratio
from host.backoffice.addresses import (
    AddressMatch,
    DeliveryAddress,
    compare_addresses,
    normalise_street,
    set_delivery_address,
)
from host.backoffice.members import account_id
from host.backoffice.schema import bo_delivery_addresses
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer
from host.cli.host_cmds import host as host_group
from host.payment.perso import CDOL1
from host.perso import HolderRecord, NumberStore, load_profile
from host.perso.plan import PINCheck
from host.pos.link import PaymentMethod
from host.service.auth_centre import AuthenticationCentre, HolderCheck, reset_pin_tries
from host.service.holder_checks import holder_check_request, results_of
from host.service.iso8583 import Message, ResponseCode
from host.service.mac import sign, verify
from host.service.messages import Envelope, authorisation_request
from host.service.pin_keys import read_pin_key_file, register_pin_key
from host.service.schema import svc_pin_tries, svc_terminal_pin_keys
from host.testing.personalise import SAMPLE
from host.testing.sample_terminal import OPENED
from tests.perso.perso_helpers import PROFILE
from tests.pos.conftest import MERCHANT, PIN, START

from .conftest import Host, answer_of, arqc_request, utc_now
from .http_helpers import send

PAN = SAMPLE.debit.pan
ZPK_A = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
ZPK_B = bytes.fromhex("4C5D6E7F8091A2B3C4D5E6F708192A3B")
OTHER_TERMINAL = "0000000A0002"
LIMIT = 5_000_00
ADDRESS = DeliveryAddress("No. 12, Huaihai Road (Middle)", "200031", "Shanghai")


@pytest.fixture
def centre(service: Host, db_url: str) -> Iterator[Host]:
    """The sample alliance with what the authentication centre needs: the card's PVV on the
    issuer's record, a ZPK for SHOP A's terminal and for a second terminal of SHOP A, the
    holder's address on file and a credit line."""
    office = service.office
    office.add_members([Member("shop-a", MemberKind.MERCHANT, "Shop A", OPENED,
                               two_way=Ratio(1, 10),
                               terminals=(MERCHANT.terminal_hex, OTHER_TERMINAL))], at=START)
    with NumberStore(db_url) as store:
        store.allocate(load_profile(PROFILE), [HolderRecord(0, "ZHANG/SAN", "H-ZHANG", pan=PAN,
                                                            card_id=SAMPLE.identity)], "run")
        store.mark_issued(SAMPLE.identity,
                          PINCheck("1", pvv(SAMPLE.payment_keys.pvk, PAN, "1", PIN)))
    register_pin_key(office.db, MERCHANT.terminal_hex, at=START, key=ZPK_A)
    register_pin_key(office.db, OTHER_TERMINAL, at=START, key=ZPK_B)
    set_delivery_address(office.db, "zhang", ADDRESS, at=START)
    office.open_credit_line("zhang", LIMIT, at=START)
    yield service


_stan = iter(range(1000, 999_999))


def _iso(host: Host, **check: Any) -> Message:
    """One holder check over ISO 8583 on a new TCP connection; the verified 0110."""
    envelope = Envelope(MERCHANT.terminal_hex, MERCHANT.merchant_id, next(_stan), utc_now())
    check.setdefault("pan", PAN)
    raw = host.exchange(sign(holder_check_request(HolderCheck(SAMPLE.identity, **check),
                                                  envelope.fields()), host.terminal.key))
    reply = answer_of(raw)
    assert raw is not None and verify(raw, reply, host.terminal.key)
    return reply


def _block(pin: str, key: bytes = ZPK_A, pan: str = PAN) -> bytes:
    return encipher_format_0(key, pin, pan)


def _failures(host: Host) -> int:
    with host.office.db.read() as conn:
        return int(conn.execute(select(svc_pin_tries.c.failures)).scalar() or 0)


# -- PIN ------------------------------------------------------------------------------------------


def test_the_right_pin_is_approved_over_a_real_socket(centre: Host) -> None:
    reply = _iso(centre, pin_block=_block(PIN))
    assert (reply["t"], reply["39"], results_of(reply)) == ("0110", "00", {"PIN": "00"})


def test_wrong_pins_count_block_after_three_and_stay_blocked(centre: Host) -> None:
    assert _iso(centre, pin_block=_block("1235"))["39"] == ResponseCode.INCORRECT_PIN
    assert _iso(centre, pin_block=_block("9999"))["39"] == ResponseCode.INCORRECT_PIN
    assert _failures(centre) == 2
    assert _iso(centre, pin_block=_block("0000"))["39"] == ResponseCode.PIN_TRIES_EXCEEDED
    blocked = _iso(centre, pin_block=_block(PIN), amount=100)
    assert (blocked["39"], results_of(blocked)) == ("75", {"PIN": "75"})  # nothing else said
    assert _failures(centre) == 3
    assert reset_pin_tries(centre.office.db, SAMPLE.identity)
    assert _iso(centre, pin_block=_block(PIN))["39"] == ResponseCode.APPROVED


def test_the_right_pin_sets_the_count_back(centre: Host) -> None:
    for _ in range(2):
        assert _iso(centre, pin_block=_block("4321"))["39"] == ResponseCode.INCORRECT_PIN
    assert _iso(centre, pin_block=_block(PIN))["39"] == ResponseCode.APPROVED
    assert _failures(centre) == 0
    for _ in range(2):  # two more wrong ones do not block: the count started again
        assert _iso(centre, pin_block=_block("4321"))["39"] == ResponseCode.INCORRECT_PIN
    assert _iso(centre, pin_block=_block(PIN))["39"] == ResponseCode.APPROVED


def test_a_block_under_another_terminals_key_is_refused_and_not_counted(centre: Host) -> None:
    reply = _iso(centre, pin_block=_block(PIN, key=ZPK_B))
    assert reply["39"] == ResponseCode.PIN_CRYPTOGRAPHIC_ERROR
    assert _failures(centre) == 0


def test_a_block_for_another_pan_or_a_pan_not_the_cards_is_refused(centre: Host) -> None:
    other = SAMPLE.credit.pan  # the card's other application: not the issuer's record
    assert _iso(centre, pin_block=_block(PIN, pan=other), pan=other)["39"] == \
        ResponseCode.INVALID_CARD
    reply = _iso(centre, pin_block=_block(PIN, pan="6200000000000104"))
    assert reply["39"] in (ResponseCode.PIN_CRYPTOGRAPHIC_ERROR, ResponseCode.INCORRECT_PIN)


def test_a_terminal_without_a_zpk_or_a_card_without_a_pvv_cannot_verify(centre: Host) -> None:
    with centre.office.db.write() as conn:
        conn.execute(svc_terminal_pin_keys.delete()
                     .where(svc_terminal_pin_keys.c.terminal_id == MERCHANT.terminal_hex))
    assert _iso(centre, pin_block=_block(PIN))["39"] == ResponseCode.CANNOT_VERIFY_PIN
    assert _failures(centre) == 0


def test_the_pin_never_reaches_the_log(centre: Host, caplog: pytest.LogCaptureFixture) -> None:
    block = _block("8642")
    with caplog.at_level(logging.DEBUG, logger="dualcard.service"):
        _iso(centre, pin_block=block)
    text = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert caplog.records and "8642" not in text
    assert block.hex() not in text.lower()


# -- address --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("street", "postcode", "expected"), [
    ("No. 12, Huaihai Road (Middle)", "200031", "Y"),
    ("no 12 huaihai road middle", "200031", "Y"),
    ("  NO.12 ,HUAIHAI   ROAD - MIDDLE ", " 200031 ", "Y"),
    ("No. 12, Huaihai Road (Middle)", "200032", "A"),
    ("No. 21, Huaihai Road (Middle)", "200031", "Z"),
    ("1 Nanjing Road", "200001", "N"),
])
def test_the_presented_address_against_the_one_on_file(centre: Host, street: str,
                                                       postcode: str, expected: str) -> None:
    reply = _iso(centre, address=DeliveryAddress(street, postcode))
    assert (reply["39"], results_of(reply)) == ("00", {"AVS": expected})


def test_address_normalisation_and_codes() -> None:
    assert normalise_street("Flat 3/B, O'Brien St.") == "flat3bobrienst"
    assert normalise_street("ＮＯ．１２") == "no12"  # full-width forms fold (NFKC)
    assert compare_addresses(None, ADDRESS) is AddressMatch.UNAVAILABLE
    assert compare_addresses(ADDRESS, DeliveryAddress(ADDRESS.street, "200 031")) is \
        AddressMatch.STREET_ONLY  # a postcode is compared exactly


@given(words=st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8),
                     min_size=1, max_size=6),
       separators=st.lists(st.sampled_from([" ", "  ", ", ", ". ", "-", "/", "\u3000", "\u00a0", "'"]),
                           min_size=6, max_size=6),
       upper=st.booleans())
def test_spelling_a_street_otherwise_still_matches(words: list[str], separators: list[str],
                                                   upper: bool) -> None:
    written = "".join(w + s for w, s in zip(words, separators, strict=False))
    written = written.upper() if upper else written
    on_file = DeliveryAddress(" ".join(words), "200031")
    assert compare_addresses(on_file, DeliveryAddress(written, "200031")) is AddressMatch.FULL
    assert compare_addresses(on_file, DeliveryAddress(written + "x", "200031")) is \
        AddressMatch.POSTCODE_ONLY


def test_a_holder_without_an_address_on_file_is_u(centre: Host) -> None:
    with centre.office.db.write() as conn:
        conn.execute(bo_delivery_addresses.delete())
    assert results_of(_iso(centre, address=ADDRESS)) == {"AVS": "U"}


# -- credit ---------------------------------------------------------------------------------------


def _use_line(host: Host, used: int, held: int) -> None:
    source = Source(SourceKind.OPERATOR, "tests")
    line, shop = account_id("zhang", "credit_line"), account_id("shop-a", "cny")
    with host.office.db.write() as conn:
        host.office.ledger.apply(conn, [
            Transfer.single("used-1", line, shop, used, Asset.CNY, Reason.CARD_PAYMENT, source),
            Transfer.hold("held-1", line, shop, held, Asset.CNY, source)],
            at=START, all_or_nothing=True)


def test_an_amount_exactly_at_the_limit_is_covered_one_fen_more_is_not(centre: Host) -> None:
    assert results_of(_iso(centre, amount=LIMIT)) == {"CREDIT": "00"}
    reply = _iso(centre, amount=LIMIT + 1)
    assert (reply["39"], results_of(reply)) == ("61", {"CREDIT": "61"})


def test_available_is_the_limit_less_what_is_used_and_held(centre: Host) -> None:
    _use_line(centre, used=1_200_00, held=300_00)
    available = LIMIT - 1_200_00 - 300_00
    assert _iso(centre, amount=available)["39"] == ResponseCode.APPROVED
    reply = _iso(centre, amount=available + 1)
    assert (reply["39"], results_of(reply)) == ("51", {"CREDIT": "51"})


def test_all_three_checks_in_one_request(centre: Host) -> None:
    reply = _iso(centre, pin_block=_block(PIN), amount=LIMIT + 1,
                 address=DeliveryAddress("1 Nanjing Road", "200031"))
    assert reply["39"] == ResponseCode.EXCEEDS_LIMIT  # the address never declines by itself
    assert reply["44"] == "PIN=00;AVS=Z;CREDIT=61"


def test_an_unknown_card_is_14(centre: Host) -> None:
    envelope = Envelope(MERCHANT.terminal_hex, MERCHANT.merchant_id, next(_stan), utc_now())
    message = {"t": "0100", "2": PAN, "3": "300000", "62": "6200009999999999",
               **envelope.fields()}
    reply = answer_of(centre.exchange(sign(message, centre.terminal.key)))
    assert reply["39"] == ResponseCode.INVALID_CARD and "44" not in reply


def test_a_repeat_of_a_holder_check_is_refused(centre: Host) -> None:
    envelope = Envelope(MERCHANT.terminal_hex, MERCHANT.merchant_id, next(_stan), utc_now())
    message = {"t": "0101", "2": PAN, "3": "300000", "62": SAMPLE.identity,
               "52": _block("1111"), **envelope.fields()}
    reply = answer_of(centre.exchange(sign(message, centre.terminal.key)))
    assert reply["39"] == ResponseCode.INVALID_TRANSACTION and _failures(centre) == 0


# -- the HTTP door --------------------------------------------------------------------------------


def test_the_http_door_answers_the_same_checks(centre: Host) -> None:
    assert centre.http_url is not None
    body = {"card_id": SAMPLE.identity, "pan": PAN, "pin_block": _block(PIN).hex(),
            "amount": LIMIT, "address": {"street": ADDRESS.street, "postcode": "200031"}}
    response = send(centre.http_url, centre.terminal.key, "POST", "/v1/holder-checks", body)
    assert response.status_code == 200
    assert response.json() == {"code": "00", "pin": "00", "address": "Y", "credit": "00",
                               "reason": ""}
    wrong = send(centre.http_url, centre.terminal.key, "POST", "/v1/holder-checks",
                 {**body, "pin_block": _block("2468").hex()}).json()
    assert (wrong["code"], wrong["pin"], wrong["credit"]) == ("55", "55", None)
    no_pan = send(centre.http_url, centre.terminal.key, "POST", "/v1/holder-checks",
                  {"card_id": SAMPLE.identity, "pin_block": _block(PIN).hex()})
    assert no_pan.status_code == 422 and _failures(centre) == 1


def test_tries_are_shared_by_every_process(centre: Host) -> None:
    """A second authentication centre over the same database (another service process)
    sees the tries the first one counted."""
    other = AuthenticationCentre(centre.office, pvk=SAMPLE.payment_keys.pvk,
                                 clock=lambda: dt.datetime.now(dt.UTC))
    assert _iso(centre, pin_block=_block("1111"))["39"] == ResponseCode.INCORRECT_PIN
    result = other.check(HolderCheck(SAMPLE.identity, PAN, _block("2222")),
                         MERCHANT.terminal_hex)
    assert result.pin is ResponseCode.INCORRECT_PIN and "2 of 3" in result.reason
    assert _iso(centre, pin_block=_block("3333"))["39"] == ResponseCode.PIN_TRIES_EXCEEDED


# -- malformed blocks, and the operator's commands ------------------------------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(block=st.binary(min_size=8, max_size=8))
def test_any_block_is_answered_and_only_a_compared_pin_counts(centre: Host, block: bytes) -> None:
    """Arbitrary DE 52 content: 81 when it does not decode (nothing counted), 55/75 when it
    decodes to a PIN that is not the card's (counted) — never a crash, never approved."""
    reset_pin_tries(centre.office.db, SAMPLE.identity)
    result = centre.core.services.authentication_centre.check(
        HolderCheck(SAMPLE.identity, PAN, block), MERCHANT.terminal_hex)
    counted = _failures(centre)
    assert (result.code, counted) in ((ResponseCode.PIN_CRYPTOGRAPHIC_ERROR, 0),
                                      (ResponseCode.INCORRECT_PIN, 1))


def test_the_operator_keys_a_pin_pad_and_unblocks_a_card(centre: Host, db_url: str,
                                                         tmp_path: Path) -> None:
    runner = CliRunner()
    key_file = tmp_path / "terminal.zpk"
    out = runner.invoke(host_group, ["terminal", "pin-key", MERCHANT.terminal_hex, "--db",
                                     db_url, "--key-out", str(key_file), "--replace"])
    assert out.exit_code == 0, out.output
    zpk = read_pin_key_file(key_file)
    assert f"ZPK KCV {zpk.kcv}" in out.output and zpk.key.hex() not in out.output.lower()
    assert _iso(centre, pin_block=_block(PIN, key=ZPK_A))["39"] == \
        ResponseCode.PIN_CRYPTOGRAPHIC_ERROR  # the old ZPK is gone at once
    for _ in range(3):
        _iso(centre, pin_block=_block("1111", key=zpk.key))
    assert _iso(centre, pin_block=_block(PIN, key=zpk.key))["39"] == "75"
    again = runner.invoke(host_group, ["terminal", "pin-key", MERCHANT.terminal_hex, "--db",
                                       db_url, "--key-out", str(tmp_path / "other.zpk")])
    assert again.exit_code == 1 and "already has a ZPK" in again.output
    assert not (tmp_path / "other.zpk").exists()
    unblocked = runner.invoke(host_group, ["pin-unblock", SAMPLE.identity, "--db", db_url])
    assert unblocked.exit_code == 0 and "can be tried again" in unblocked.output
    assert _iso(centre, pin_block=_block(PIN, key=zpk.key))["39"] == ResponseCode.APPROVED


# -- a chip purchase with an online PIN -------------------------------------------------------------


@pytest.mark.sim
def test_a_purchase_with_a_wrong_online_pin_never_reaches_the_issuer(centre: Host,
                                                                     card: Any) -> None:
    _, request = arqc_request(card, 42_00)
    envelope = Envelope(MERCHANT.terminal_hex, MERCHANT.merchant_id, next(_stan), utc_now())
    purchase = authorisation_request(request, card_id=SAMPLE.identity,
                                     method=PaymentMethod.DEBIT, envelope=envelope, cdol1=CDOL1)
    wrong = answer_of(centre.exchange(sign({**purchase, "52": _block("9876")},
                                           centre.terminal.key)))
    assert wrong["39"] == ResponseCode.INCORRECT_PIN and "55" not in wrong
    assert centre.authorisations() == [] and _failures(centre) == 1
    envelope = Envelope(MERCHANT.terminal_hex, MERCHANT.merchant_id, next(_stan), utc_now())
    right = {**purchase, **envelope.fields(), "52": _block(PIN)}
    approved = answer_of(centre.exchange(sign(right, centre.terminal.key)))
    assert approved["39"] == ResponseCode.APPROVED and "55" in approved  # the ARPC
    assert len(centre.authorisations()) == 1 and _failures(centre) == 0
