"""Group commit (:meth:`ServiceCore.handle_many`): the authorisations of several
connections share one write transaction, each still all or nothing, each answered as it
would have been alone; a group that fails to commit is handled again, each alone, and
nothing is kept twice. On both databases."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from host.backoffice.authorisations import Authorisation
from host.backoffice.members import Role, account_id
from host.backoffice.schema import ledger_transfers
from host.payment.issuer import AuthorisationRequest
from host.pos.link import PaymentMethod
from host.service.core import ServiceCore
from host.service.holds import AuthorisationHolds
from host.service.iso8583 import MTI, ResponseCode, decode
from host.service.mac import sign
from host.service.messages import Envelope, authorisation_request
from host.service.replay import ReplayGuard
from host.service.schema import svc_authorisations, svc_seen_messages
from host.service.terminals import TerminalKey
from host.testing.arqcs import genuine_requests
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT

from .conftest import Host, arqc_request, utc_now

pytestmark = pytest.mark.sim

_STANS = itertools.count(5000)


def _count(host: Host, table: Any) -> int:
    with host.office.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _requests(host: Host, card: Any, count: int) -> list[AuthorisationRequest]:
    _, template = arqc_request(card, 10_00)
    return genuine_requests(template, count, 7)


def _signed(host: Host, request: AuthorisationRequest, stan: int | None = None,
            mti: str = MTI.AUTHORISATION) -> bytes:
    cdol1 = host.core.services.link(MERCHANT.terminal_hex).issuer.cdol1
    message = authorisation_request(
        request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT, cdol1=cdol1,
        envelope=Envelope(MERCHANT.terminal_hex, "shop-a",
                          next(_STANS) if stan is None else stan, utc_now()))
    return sign({**message, "t": mti}, host.terminal.key)


def _bank_held(host: Host) -> int:
    """What the issuing bank's account holds for the merchants (its pending debits)."""
    bank = account_id(host.core.services.bank_id, Role.CNY)
    return host.office.ledger.account(bank).balance.debits_pending


def _codes(answers: list[bytes | None]) -> list[str]:
    return [decode(a)["39"] if a is not None else "closed" for a in answers]


def test_a_group_answers_each_request_as_alone(host: Host, card: Any) -> None:
    core = host.core
    good = [_signed(host, r) for r in _requests(host, card, 3)]
    forged = good[0][:-1] + bytes([good[0][-1] ^ 1])
    replayed = good[1]  # the same STAN again, in the same group: refused once taken
    network = sign({"t": MTI.NETWORK, "7": utc_now().strftime("%m%d%H%M%S"),
                    "11": f"{next(_STANS):06d}", "41": MERCHANT.terminal_hex,
                    "42": "shop-a", "70": "301"}, host.terminal.key)
    transfers = _count(host, ledger_transfers)
    batch = [good[0], forged, good[1], replayed, b"not iso", network, good[2]]
    answers = core.handle_many([(core.connection(f"t{n}"), raw) for n, raw in enumerate(batch)])
    assert _codes(answers) == ["00", "63", "00", "94", "closed", "00", "00"]
    assert len(host.authorisations()) == 3
    assert _count(host, svc_authorisations) == 3
    assert _count(host, ledger_transfers) == transfers + 3  # one hold each, once


class _HoldFailingFor(AuthorisationHolds):
    """Posts the hold of STAN ``stan``, then fails (the database went away)."""

    def __init__(self, host: Host, stan: int) -> None:
        super().__init__(host.core.services)
        self.stan = stan

    def hold(self, terminal: TerminalKey, stan: int, sent_at: dt.datetime,
             record: Authorisation, *, now: dt.datetime) -> str | None:
        held = super().hold(terminal, stan, sent_at, record, now=now)
        if stan == self.stan:
            raise ConnectionError("lost the database")
        return held


def _group_of_three_the_second_failing(host: Host, card: Any, core: ServiceCore,
                                       failing: int) -> list[bytes]:
    """Three authorisations in one group, the second's STAN ``failing``: it is answered 96
    with nothing of it kept (no record, no hold), the other two approved and held once.
    The three requests sent."""
    first, second, third = _requests(host, card, 3)
    batch = [_signed(host, first), _signed(host, second, failing), _signed(host, third)]
    transfers, held = _count(host, ledger_transfers), _bank_held(host)
    answers = core.handle_many([(core.connection(f"t{n}"), raw) for n, raw in enumerate(batch)])
    assert _codes(answers) == ["00", "96", "00"]
    kept = {bytes(row.arqc) for row in host.authorisations()}
    assert kept == {first.arqc, third.arqc}  # nothing of the failed one: no record, no hold
    assert _count(host, ledger_transfers) == transfers + 2
    # the bank's account, moved once at the commit, moved for the two kept holds only
    assert _bank_held(host) == held + first.amount + third.amount
    return batch


def test_a_failure_in_a_group_undoes_that_request_alone(host: Host, card: Any) -> None:
    failing = next(_STANS)
    core = ServiceCore(host.core.services)
    core.holds = _HoldFailingFor(host, failing)
    _group_of_three_the_second_failing(host, card, core, failing)


class _ReplayFailingFor(ReplayGuard):
    """Takes the STAN ``stan``, then fails (the database went away): in a group, the error
    comes after the request wrote, with no savepoint of its own to undo it."""

    def __init__(self, host: Host, stan: int) -> None:
        super().__init__(host.core.services.db)
        self.stan = stan
        self.tries = 0

    def reserve(self, terminal_id: str, stan: int, sent_at: dt.datetime, digest: bytes, *,
                now: dt.datetime) -> bytes | None:
        holder = super().reserve(terminal_id, stan, sent_at, digest, now=now)
        if stan == self.stan:
            self.tries += 1
            raise ConnectionError("lost the database")
        return holder


def _stans_seen(host: Host, stan: int) -> int:
    with host.office.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(svc_seen_messages)
                                .where(svc_seen_messages.c.stan == stan)).scalar_one())


def test_an_error_past_a_grouped_requests_refusals_ends_the_group(
        host: Host, card: Any) -> None:
    """A grouped request has no savepoint around its STAN: an error there (not a refusal)
    undoes the whole group, and each request is handled again alone. The failed one is
    answered 96 with nothing of it kept, its STAN included; the others as alone, once."""
    failing = next(_STANS)
    core = ServiceCore(host.core.services)
    core.replay = replay = _ReplayFailingFor(host, failing)
    batch = _group_of_three_the_second_failing(host, card, core, failing)
    assert replay.tries == 2  # in the group, then alone
    assert _stans_seen(host, failing) == 0  # its STAN was not kept: it may come again
    again = host.core.handle_many([(host.core.connection("t9"), batch[1])])
    assert _codes(again) == ["00"]


@pytest.fixture
def failing_commit(host: Host) -> Iterator[list[str]]:
    """Append "armed" to the list: the next commit of the host's database fails (nothing
    of it is kept), and "failed" is appended."""
    state: list[str] = []

    def refuse(conn: Any) -> None:
        if state == ["armed"]:
            state.append("failed")
            raise OSError("disk full")

    engine = host.office.db.engine
    event.listen(engine, "commit", refuse)
    yield state
    event.remove(engine, "commit", refuse)


def test_a_group_that_fails_to_commit_is_handled_again_each_alone(
        host: Host, card: Any, failing_commit: list[str]) -> None:
    core = host.core
    requests = _requests(host, card, 3)
    batch = [_signed(host, r) for r in requests]
    transfers = _count(host, ledger_transfers)
    failing_commit.append("armed")
    answers = core.handle_many([(core.connection(f"t{n}"), raw) for n, raw in enumerate(batch)])
    assert failing_commit == ["armed", "failed"]
    assert _codes(answers) == ["00", "00", "00"]
    assert sorted(bytes(row.arqc) for row in host.authorisations()) == \
        sorted(r.arqc for r in requests)  # each recorded once
    assert _count(host, ledger_transfers) == transfers + 3  # and held once


def test_requests_that_wait_for_the_disk_are_not_grouped(host: Host, card: Any) -> None:
    """An online PIN (a wrong try must be counted on disk) or a reversal is handled in its
    own transaction: grouped with others, it is answered as alone, not 96."""
    core = host.core
    request, other = _requests(host, card, 2)
    authorised = _signed(host, request)
    assert core.connection("a").grouped(authorised) is not None
    with_pin = decode(_signed(host, other)) | {"52": bytes(8)}
    assert core.connection("b").grouped(sign(with_pin, host.terminal.key)) is None
    reversal = _signed(host, request, mti=MTI.REVERSAL)
    assert core.connection("c").grouped(reversal) is None
    answers = core.handle_many([(core.connection("a"), authorised),
                                (core.connection("b"), sign(with_pin, host.terminal.key))])
    codes = _codes(answers)
    assert codes[0] == ResponseCode.APPROVED.value
    assert codes[1] != ResponseCode.SYSTEM_MALFUNCTION.value
