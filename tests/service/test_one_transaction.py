"""An authorisation is handled in one write transaction, from its STAN to its hold: when
a step after the STAN fails, nothing of the issuer's answer is kept (no record, no hold),
the STAN stays taken, and the terminal is answered 96. On both databases."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import func, select

from host.backoffice.authorisations import Authorisation
from host.backoffice.schema import ledger_transfers
from host.pos.link import PaymentMethod
from host.service.core import ServiceCore
from host.service.holds import AuthorisationHolds
from host.service.iso8583 import MTI, ResponseCode
from host.service.mac import sign
from host.service.messages import Envelope, authorisation_request
from host.service.schema import svc_authorisations
from host.service.terminals import TerminalKey
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT

from .conftest import Host, answer_of, arqc_request, utc_now

pytestmark = pytest.mark.sim

_STANS = itertools.count(3000)


class _HoldThatFails(AuthorisationHolds):
    """Posts the hold, then fails (the database went away between two statements)."""

    def hold(self, terminal: TerminalKey, stan: int, sent_at: dt.datetime,
             record: Authorisation, *, now: dt.datetime) -> str | None:
        super().hold(terminal, stan, sent_at, record, now=now)
        raise ConnectionError("lost the database")


def _rows(host: Host, table: Any) -> int:
    with host.office.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_failure_after_the_issuer_answered_keeps_nothing_but_the_stan(host: Host,
                                                                        card: Any) -> None:
    core = ServiceCore(host.core.services)
    core.holds = _HoldThatFails(host.core.services)
    _, request = arqc_request(card, 10_00)
    cdol1 = host.core.services.link(MERCHANT.terminal_hex).issuer.cdol1
    message = authorisation_request(
        request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT, cdol1=cdol1,
        envelope=Envelope(MERCHANT.terminal_hex, "shop-a", next(_STANS), utc_now()))
    transfers = _rows(host, ledger_transfers)
    first = answer_of(core.connection("t").handle(sign(message, host.terminal.key)))
    assert first["39"] == ResponseCode.SYSTEM_MALFUNCTION.value
    assert host.authorisations() == []
    assert _rows(host, svc_authorisations) == 0 and _rows(host, ledger_transfers) == transfers
    again = answer_of(core.connection("t").handle(sign(message, host.terminal.key)))
    assert again["39"] == ResponseCode.DUPLICATE.value  # the STAN stayed taken
    repeat = {**message, "t": MTI.AUTHORISATION_REPEAT}  # the original never reached the
    answer = answer_of(host.core.connection("t").handle(sign(repeat, host.terminal.key)))
    assert answer["39"] == ResponseCode.APPROVED.value   # issuer's record: handled anew
    assert len(host.authorisations()) == 1 and _rows(host, svc_authorisations) == 1
