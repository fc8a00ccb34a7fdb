"""Reversals (0400/0410) and advices (0220/0230) through a real socket, on both databases:
an approved authorisation holds its amount on the ledger, its reversal releases it once,
a reversal that comes first leaves no hold to the authorisation that follows, and nobody
reverses another terminal's authorisation."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from host.backoffice import Member, MemberKind, Ratio
from host.backoffice.schema import ledger_transfers
from host.pos.link import PaymentMethod
from host.pos.network_link import HTTPBackOffice, HTTPRefusedError
from host.service.core import ServiceCore
from host.service.holds import AuthorisationHolds
from host.service.iso8583 import MTI, Message, ResponseCode
from host.service.mac import sign
from host.service.messages import Envelope, authorisation_request
from host.service.reversals import (
    SCRIPT_RESULTS,
    ScriptOutcomeRecord,
    arqc_of,
    reversal_request,
    script_advice,
)
from host.service.schema import svc_advices
from host.service.terminals import register_terminal
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, START

from .conftest import Host, answer_of, arqc_request, utc_now

pytestmark = pytest.mark.sim

_STANS = itertools.count(1000)


def _envelope(terminal: str = MERCHANT.terminal_hex, merchant: str = "shop-a",
              sent_at: dt.datetime | None = None) -> Envelope:
    return Envelope(terminal, merchant, next(_STANS), sent_at or utc_now())


def _authorisation(host: Host, card: Any, amount: int = 10_00,
                   envelope: Envelope | None = None) -> Message:
    _, request = arqc_request(card, amount)
    cdol1 = host.core.services.link(MERCHANT.terminal_hex).issuer.cdol1
    return authorisation_request(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT,
                                 envelope=envelope or _envelope(), cdol1=cdol1)


def _send(host: Host, message: Message, key: bytes | None = None) -> Message:
    return answer_of(host.exchange(sign(message, key or host.terminal.key)))


def _held(host: Host, merchant: str = "shop-a") -> int:
    """What the merchant's CNY account has pending: the holds of its authorisations."""
    return host.office.ledger.account(f"{merchant}:cny").balance.credits_pending


def _voids(host: Host) -> int:
    with host.office.db.read() as conn:
        return conn.execute(select(func.count()).select_from(ledger_transfers)
                            .where(ledger_transfers.c.kind == "void")).scalar_one()


def test_an_approved_authorisation_holds_its_amount_and_its_reversal_releases_it_once(
        host: Host, card: Any) -> None:
    original = _authorisation(host, card, 123_45)
    assert _send(host, original)["39"] == ResponseCode.APPROVED
    assert _held(host) == 123_45
    reversal = reversal_request(original, _envelope())
    first = _send(host, reversal)
    assert (first["t"], first["39"], first["90"][:10]) == ("0410", "00", "0100" + original["11"])
    assert _held(host) == 0
    again = _send(host, {**reversal, "t": MTI.REVERSAL_REPEAT})  # the same reversal, repeated
    copy = _send(host, reversal)  # and sent once more as it was
    fresh = _send(host, reversal_request(original, _envelope()))  # and under a new STAN
    assert [r["39"] for r in (again, copy, fresh)] == ["00", "00", "00"]
    assert _held(host) == 0 and _voids(host) == 1


def test_a_reversal_that_comes_first_leaves_no_hold_to_its_late_authorisation(
        host: Host, card: Any) -> None:
    original = _authorisation(host, card, 50_00)
    assert _send(host, reversal_request(original, _envelope()))["39"] == ResponseCode.APPROVED
    late = _send(host, original)
    repeat = _send(host, {**original, "t": MTI.AUTHORISATION_REPEAT})
    assert late["39"] == repeat["39"] == ResponseCode.TOO_LATE
    assert "55" not in late and host.authorisations() == [] and _held(host) == 0


def test_a_reversal_of_another_amount_is_refused_and_the_hold_stays(host: Host,
                                                                   card: Any) -> None:
    original = _authorisation(host, card, 20_00)
    _send(host, original)
    reversal = {**reversal_request(original, _envelope()), "4": "000000000001"}
    assert _send(host, reversal)["39"] == ResponseCode.INVALID_TRANSACTION
    assert _held(host) == 20_00


def _other_terminal(host: Host, terminal: str, merchant: str) -> bytes:
    if merchant != "shop-a":
        host.office.add_member(Member(merchant, MemberKind.MERCHANT, merchant, START,
                                      two_way=Ratio(1, 10), terminals=(terminal,)), at=START)
    return register_terminal(host.office.db, terminal, at=START).key


@pytest.mark.parametrize(("merchant", "code"), [("shop-b", ResponseCode.INVALID_MERCHANT)])
def test_a_reversal_of_another_merchants_authorisation_is_refused(
        host: Host, card: Any, merchant: str, code: ResponseCode) -> None:
    key = _other_terminal(host, "0000000B0001", merchant)
    original = _authorisation(host, card, 30_00)
    _send(host, original)
    hostile = reversal_request(original, _envelope("0000000B0001", merchant))
    assert _send(host, hostile, key)["39"] == code  # its own name, the victim's ARQC
    spoofed = reversal_request(original, _envelope())
    assert _send(host, spoofed, key)["39"] == ResponseCode.SECURITY_VIOLATION
    assert _held(host) == 30_00 and _voids(host) == 0


def test_a_reversal_of_another_terminals_authorisation_of_the_same_merchant_is_refused(
        host: Host, card: Any) -> None:
    host.office.add_member(Member("shop-c", MemberKind.MERCHANT, "Shop C", START,
                                  two_way=Ratio(1, 10),
                                  terminals=("0000000C0001", "0000000C0002")), at=START)
    first = register_terminal(host.office.db, "0000000C0001", at=START).key
    second = register_terminal(host.office.db, "0000000C0002", at=START).key
    original = _authorisation(host, card, 40_00, _envelope("0000000C0001", "shop-c"))
    assert _send(host, original, first)["39"] == ResponseCode.APPROVED
    hostile = reversal_request(original, _envelope("0000000C0002", "shop-c"))
    assert _send(host, hostile, second)["39"] == ResponseCode.TERMINAL_NOT_PERMITTED
    assert _held(host, "shop-c") == 40_00


def test_a_reversal_from_a_store_and_forward_queue_is_taken_after_the_window(
        host: Host, card: Any) -> None:
    original = _authorisation(host, card, 15_00)
    _send(host, original)
    old = reversal_request(original, _envelope(sent_at=utc_now() - dt.timedelta(hours=2)))
    assert _send(host, old)["39"] == ResponseCode.APPROVED
    assert _held(host) == 0
    stale = _authorisation(host, card, 1_00, _envelope(sent_at=utc_now() - dt.timedelta(hours=2)))
    assert _send(host, stale)["39"] == ResponseCode.DUPLICATE  # an 0100 still is not


def _advices(host: Host) -> list[Any]:
    with host.office.db.read() as conn:
        return list(conn.execute(select(svc_advices)))


def test_an_offline_sale_advice_is_taken_once(host: Host, card: Any) -> None:
    advice = {**_authorisation(host, card, 8_00), "t": MTI.ADVICE}
    answers = [_send(host, advice), _send(host, {**advice, "t": MTI.ADVICE_REPEAT})]
    assert [(a["t"], a["39"]) for a in answers] == [("0230", "00"), ("0230", "00")]
    [row] = _advices(host)
    assert (row.kind, row.stan) == ("offline_sale", int(advice["11"]))
    assert host.authorisations() == [] and _held(host) == 0  # an advice asks nothing


def test_a_script_advice_records_each_outcome_once(host: Host) -> None:
    advice = script_advice([ScriptOutcomeRecord("limit/X/1", True),
                            ScriptOutcomeRecord("limit/X/2", False)], _envelope())
    assert advice["3"] == SCRIPT_RESULTS and advice["63"] == "+limit/X/1 -limit/X/2"
    assert _send(host, advice)["39"] == _send(host, advice)["39"] == ResponseCode.APPROVED
    [row] = _advices(host)
    assert (row.kind, json.loads(row.details)) == (
        "scripts", {"ran": [], "refused": ["limit/X/2"], "unknown": ["limit/X/1"]})


# -- any order of delivery -----------------------------------------------------------------


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(["auth", "repeat", "reversal", "reversal again"]),
       reversed_=st.booleans())
def test_no_order_of_delivery_leaves_a_hold_after_a_reversal(sqlite_host: Host, card: Any,
                                                             order: list[str],
                                                             reversed_: bool) -> None:
    host = sqlite_host
    before = _held(host)
    original = _authorisation(host, card, 7_00)
    reversal = reversal_request(original, _envelope())
    messages = {"auth": original, "repeat": {**original, "t": MTI.AUTHORISATION_REPEAT},
                "reversal": reversal, "reversal again": {**reversal, "t": MTI.REVERSAL_REPEAT}}
    connection = host.core.connection("hypothesis")
    for step in order:
        if reversed_ or not step.startswith("reversal"):
            connection.handle(sign(messages[step], host.terminal.key))
    assert _held(host) - before == (0 if reversed_ else 7_00)


# -- the HTTP door's reversal -----------------------------------------------------------------


def test_a_reversal_over_http_releases_the_hold_of_an_iso_authorisation_once(
        service: Host, card: Any) -> None:
    sent_at = utc_now()
    original = _authorisation(service, card, 25_00, _envelope(sent_at=sent_at))
    assert _send(service, original)["39"] == ResponseCode.APPROVED
    door = HTTPBackOffice(service.http_url or "", terminal_id=MERCHANT.terminal_hex,
                          key=service.terminal.key)
    arqc = arqc_of(original)
    with contextlib.closing(door):
        first = door.reverse(stan=int(original["11"]), sent_at=sent_at, amount=25_00, arqc=arqc)
        again = door.reverse(stan=int(original["11"]), sent_at=sent_at, amount=25_00, arqc=arqc)
        unknown = door.reverse(stan=999_999, sent_at=sent_at, amount=1_00)
        with pytest.raises(HTTPRefusedError) as refused:
            door.reverse(stan=int(original["11"]), sent_at=sent_at, amount=1, arqc=arqc)
    assert (first, again, unknown) == ("reversed", "already_reversed", "nothing_to_reverse")
    assert refused.value.status == 409 and _held(service) == 0 and _voids(service) == 1


def test_a_reversal_over_http_of_another_merchants_authorisation_is_forbidden(
        service: Host, card: Any) -> None:
    key = _other_terminal(service, "0000000B0001", "shop-b")
    sent_at = utc_now()
    original = _authorisation(service, card, 25_00, _envelope(sent_at=sent_at))
    _send(service, original)
    door = HTTPBackOffice(service.http_url or "", terminal_id="0000000B0001", key=key)
    with contextlib.closing(door), pytest.raises(HTTPRefusedError) as refused:
        door.reverse(stan=int(original["11"]), sent_at=sent_at, amount=25_00,
                     arqc=arqc_of(original))
    assert (refused.value.status, refused.value.code) == (403, "other_merchant")
    assert _held(service) == 25_00


# -- whatever a terminal puts in them ---------------------------------------------------------

_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mti=st.sampled_from([MTI.REVERSAL, MTI.REVERSAL_REPEAT, MTI.ADVICE, MTI.ADVICE_REPEAT]),
       de90=st.text("0123456789", min_size=42, max_size=42) | st.just(
           "0100000001" + "0618013005" + "0" * 22),
       processing=st.sampled_from(["002000", "003000", SCRIPT_RESULTS, "000000", "999999"]),
       de63=_TEXT, amount=st.integers(0, 10**12 - 1),
       icc=st.binary(max_size=40) | st.just(bytes.fromhex("9F2608") + bytes(8)))
def test_no_reversal_or_advice_a_terminal_makes_up_is_a_malfunction(
        sqlite_host: Host, mti: str, de90: str, processing: str, de63: str, amount: int,
        icc: bytes) -> None:
    message: Message = {"t": mti, **_envelope().fields(), "3": processing, "4": f"{amount:012d}",
                        "90": de90, "55": icc}
    if de63:
        message["63"] = de63
    raw = sqlite_host.core.connection("fuzz").handle(sign(message, sqlite_host.terminal.key))
    assert raw is not None
    assert answer_of(raw)["39"] in {"00", "12", "30", "58", "03"}
    assert _held(sqlite_host) == 0


def _race(host: Host, *runs: tuple[ServiceCore, Message]) -> list[str]:
    """Each message handled by its core at the same moment, in its own thread: the codes."""
    start = threading.Barrier(len(runs))
    answers: list[str] = ["" for _ in runs]

    def send(number: int) -> None:
        core, message = runs[number]
        start.wait(10)
        answers[number] = answer_of(core.connection(f"racer {number}").handle(
            sign(message, host.terminal.key)))["39"]

    racers = [threading.Thread(target=send, args=(number,)) for number in range(len(runs))]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)
    return answers


def test_an_authorisation_and_its_reversal_racing_in_two_service_cores_leave_no_hold(
        host: Host, card: Any) -> None:
    second = ServiceCore(host.core.services)  # another service process on the same database
    for _ in range(5):
        original = _authorisation(host, card, 3_00)
        auth, reversal = _race(host, (host.core, original),
                               (second, reversal_request(original, _envelope())))
        assert reversal == ResponseCode.APPROVED
        assert auth in (ResponseCode.APPROVED, ResponseCode.TOO_LATE)
        assert _held(host) == 0



class _CountingHolds(AuthorisationHolds):
    """Counts the look-ups of a reversal that came first."""

    looked = 0

    def reversed_before(self, terminal_id: str, stan: int, sent_at: dt.datetime) -> bool:
        self.looked += 1
        return super().reversed_before(terminal_id, stan, sent_at)


def test_an_authorisation_taking_its_stan_afresh_does_not_look_for_a_reversal(
        host: Host, card: Any) -> None:
    """A reversal of a request not yet seen takes that request's STAN, so one whose STAN
    was free was reversed by nobody: its handler does not look (a statement fewer per
    authorisation). The late one is refused at its STAN, its repeat likewise."""
    holds = _CountingHolds(host.core.services)
    host.core.holds = holds
    assert _send(host, _authorisation(host, card, 7_00))["39"] == ResponseCode.APPROVED
    assert holds.looked == 0
    late = _authorisation(host, card, 8_00)
    assert _send(host, reversal_request(late, _envelope()))["39"] == ResponseCode.APPROVED
    assert _send(host, late)["39"] == ResponseCode.TOO_LATE
    assert _send(host, {**late, "t": MTI.AUTHORISATION_REPEAT})["39"] == ResponseCode.TOO_LATE
    assert holds.looked == 0 and host.authorisations()[-1].amount == 7_00
