"""A prepaid payment at the till in process: the holder identified by chip 1 (PIN verified
offline), the payment drawn from their prepaid account of this merchant's program by the
in-process link, exactly as over the service's HTTP door (tests/service/test_http_pos.py)."""

from __future__ import annotations

import pytest

from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.prepaid import PrepaidOffice, Program, ProgramKind
from host.pos import TxnKind, parse_slip

from .conftest import PIN, START, Rig

pytestmark = pytest.mark.sim


def _programs(rig: Rig) -> PrepaidOffice:
    prepaid = PrepaidOffice(rig.office.db)
    for program in ("tea-club", "gym"):
        prepaid.add_program(Program(program, "shop-a", ProgramKind.BONUS, 500_000,
                                    "insurer"), at=START)
    return prepaid


def test_the_till_pays_from_the_holders_account_named_by_the_card(rig: Rig) -> None:
    prepaid = _programs(rig)
    account = prepaid.issue("club-1", "tea-club", "zhang", 300_000, at=START)["account"]
    paid = rig.terminal.pay_prepaid(120_00, pin=PIN)
    assert paid["status"] == "approved" and paid["prepaid"]["account"] == account
    assert paid["holder"]["card_id"] is not None and paid["prepaid"]["balance"] == 288_000
    assert rig.terminal.journal.entry(paid["txn_id"]).kind is TxnKind.PREPAID
    assert parse_slip(rig.terminal.receipt(paid["txn_id"])).prepaid == \
        f"{account} BAL CNY 2,880.00"
    assert prepaid.balance(account)["balance"] == 288_000


def test_accounts_in_two_programs_need_the_program_named(rig: Rig) -> None:
    prepaid = _programs(rig)
    prepaid.issue("club-1", "tea-club", "zhang", 300_000, at=START)
    gym = prepaid.issue("gym-1", "gym", "zhang", 100_000, at=START)["account"]
    with pytest.raises(ValidationError, match="name the program"):
        rig.terminal.pay_prepaid(100, pin=PIN)
    assert rig.terminal.pay_prepaid(100, pin=PIN, program="gym")["prepaid"]["account"] == gym
    assert rig.terminal.journal.entries()[-2].status.value == "declined"


def test_a_holder_without_an_account_is_refused_and_nothing_moves(rig: Rig) -> None:
    _programs(rig)
    with pytest.raises(NotFoundError, match="no prepaid account of shop-a"):
        rig.terminal.pay_prepaid(100, pin=PIN)
