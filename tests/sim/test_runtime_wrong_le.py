"""Wrong Le (6Cxx): the command's answer is held until the same command comes back.

The runtime runs a command once. When a short Le is too small it answers 6Cxx and keeps
the command's transaction open; the re-sent command (same CLA INS P1 P2 data) gets the
held answer and commits it, anything else rolls the command back. RAM the command spent
(a one-use ticket here, a purse session on chip 2) is therefore never lost to an answer
that nobody received.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.gp import apdus
from host.transport.sim import SimTransport
from host.transport.t0 import T0Transport
from simulator.errors import CardMute
from simulator.runtime import ChipRuntime
from tests.gp.gp_helpers import blank as blank_card
from tests.gp.gp_helpers import client as gp_client

from .test_runtime import make_runtime, select, tx
from .toy_applet import TOY_AID


def _balance(rt: ChipRuntime) -> tuple[int, int]:
    """Committed balance and counter of the toy purse (what survives power loss)."""
    prefix = f"app/{TOY_AID.hex().upper()}/"
    stored = rt.chip.memory.snapshot()
    return stored.get(prefix + "balance", 0), stored.get(prefix + "counter", 0)


def _ready() -> ChipRuntime:
    rt = make_runtime()
    select(rt)
    return rt


def test_the_resend_gets_the_held_answer_and_commits_once():
    rt = _ready()
    assert tx(rt, "80100000040000000702") == (b"", 0x6C04)
    assert _balance(rt) == (0, 0)  # held: nothing durable yet
    assert tx(rt, "80100000040000000704") == (bytes.fromhex("00000007"), 0x9000)
    assert _balance(rt) == (7, 1)


def test_ram_spent_by_the_command_is_not_lost_to_a_wrong_le():
    rt = _ready()
    assert tx(rt, "8018000000")[1] == 0x9000  # issue a one-use ticket
    assert tx(rt, "8018010002") == (b"", 0x6C04)
    assert tx(rt, "8018010004") == (bytes.fromhex("00000001"), 0x9000)
    assert tx(rt, "8018010004")[1] == 0x6985  # spent exactly once
    assert _balance(rt) == (1, 0)


def test_a_resend_with_a_le_still_too_short_is_held_again():
    rt = _ready()
    assert tx(rt, "80100000040000000701") == (b"", 0x6C04)
    assert tx(rt, "80100000040000000703") == (b"", 0x6C04)
    assert tx(rt, "80100000040000000700") == (bytes.fromhex("00000007"), 0x9000)  # Le=00: 256
    assert _balance(rt) == (7, 1)


def test_a_resend_without_le_gets_the_answer_through_get_response():
    rt = _ready()
    assert tx(rt, "80100000040000000702") == (b"", 0x6C04)
    assert tx(rt, "801000000400000007") == (b"", 0x6104)
    assert tx(rt, "00C0000004") == (bytes.fromhex("00000007"), 0x9000)
    assert _balance(rt) == (7, 1)


@pytest.mark.parametrize("other", ["801000000400000008 04", "8012000400", "00C0000004",
                                   "80100000040000000702".replace("07", "09")])
def test_anything_else_first_rolls_the_held_command_back(other: str):
    rt = _ready()
    assert tx(rt, "80100000040000000702") == (b"", 0x6C04)
    tx(rt, other.replace(" ", ""))
    balance, counter = _balance(rt)
    assert balance != 7 and balance in (0, 8) and counter in (0, 1)
    assert tx(rt, "80100000040000000704")[0] == (balance + 7).to_bytes(4, "big")  # runs anew


def test_power_loss_rolls_the_held_command_back():
    rt = _ready()
    assert tx(rt, "80100000040000000702") == (b"", 0x6C04)
    rt.power_on()
    assert _balance(rt) == (0, 0)
    select(rt)
    assert tx(rt, "80100000040000000704") == (bytes.fromhex("00000007"), 0x9000)
    assert _balance(rt) == (7, 1)


def test_a_chained_command_is_resent_by_its_last_block():
    rt = _ready()
    assert tx(rt, "9014000003010203")[1] == 0x9000
    assert tx(rt, "801400000204 0502".replace(" ", "")) == (b"", 0x6C05)
    assert tx(rt, "80140000020405 05".replace(" ", "")) == (bytes.fromhex("0102030405"), 0x9000)


@pytest.mark.parametrize("point", [0, 1])
def test_the_resend_is_torn_at_its_commit(point: int):
    """The held writes are journaled: the resend's only write is the commit record."""
    rt = _ready()
    assert tx(rt, "80100000040000000702") == (b"", 0x6C04)
    rt.chip.memory.arm_tear(point)
    with pytest.raises(CardMute):
        rt.transmit(bytes.fromhex("80100000040000000704"))
    rt.power_on()
    assert _balance(rt) == ((0, 0) if point == 0 else (7, 1))


# A model of the toy purse seen through a host transport that re-sends on 6Cxx (T0Transport)
# and through the raw chip (6Cxx seen as such), with power cycles in between.
_ops = st.one_of(
    st.tuples(st.just("credit"), st.integers(1, 99), st.sampled_from([0, 1, 2, 3, 4, 5])),
    st.tuples(st.just("raw_credit"), st.integers(1, 99), st.sampled_from([1, 3, 4])),
    st.tuples(st.just("read"), st.integers(0, 0), st.integers(0, 0)),
    st.tuples(st.just("power"), st.integers(0, 0), st.integers(0, 0)),
)


def _credit_apdu(amount: int, le: int) -> bytes:
    return bytes.fromhex("8010000004") + amount.to_bytes(4, "big") + bytes([le])


@settings(max_examples=200, deadline=None)
@given(st.lists(_ops, max_size=20))
def test_every_credit_counts_once_whatever_the_le(ops):
    rt = _ready()
    link = T0Transport(SimTransport(rt, "sim#toy"))
    link.connect()
    select(rt)
    expected = count = 0
    for op, amount, le in ops:
        if op == "credit":
            expected, count = expected + amount, count + 1
            answer = link.transmit(_credit_apdu(amount, le))
            assert answer == expected.to_bytes(4, "big") + b"\x90\x00"
        elif op == "raw_credit":
            answer = rt.transmit(_credit_apdu(amount, le))
            if le >= 4:
                expected, count = expected + amount, count + 1
            else:
                assert answer == b"\x6C\x04"  # held, then rolled back by whatever comes next
        elif op == "read":
            assert tx(rt, "8012000400")[1] == 0x9000
        else:
            rt.power_on()
            select(rt)
    tx(rt, "8012000400")  # settle a command still held
    assert _balance(rt) == (expected, count)


def test_a_secure_channel_survives_a_wrong_le():
    """The C-MAC chaining moved when the command was unwrapped; the re-send must not
    unwrap it again (run anew, it would fail its C-MAC and close the session)."""
    gp = gp_client(blank_card())
    status = gp.channel.wrap(apdus.get_status(0x80).encode())
    answer = gp.transport.transmit(status[:-1] + b"\x02")  # T0Transport re-sends on 6Cxx
    assert answer[-2:] == b"\x90\x00" and len(answer) > 4
    following = gp.transport.transmit(gp.channel.wrap(apdus.get_status(0x80).encode()))
    assert following == answer  # the session is still open, its chaining in step
