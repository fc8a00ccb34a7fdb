"""The chip runtime: selection, channels, response sizing, chaining, atomicity, tearing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.hexutil import parse_hex
from cardlib.chip import Chip
from simulator.atr import build_atr
from simulator.card import SimulatedCard
from simulator.errors import CardMute
from simulator.faults import ForcedSW, MuteCard, TruncatedResponse
from simulator.runtime import ChipRuntime

from .toy_applet import LOAD_FILE_AID, MODULE_AID, TOY_AID


def make_runtime(*aids: bytes, module: bytes = MODULE_AID) -> ChipRuntime:
    chip = Chip("chip2")
    for aid in aids or (TOY_AID,):
        chip.content.install(LOAD_FILE_AID, module, aid)
    rt = ChipRuntime(chip, build_atr(b"TOY"))
    rt.power_on()
    return rt


def tx(rt: ChipRuntime, hexstr: str) -> tuple[bytes, int]:
    out = rt.transmit(parse_hex(hexstr))
    return out[:-2], int.from_bytes(out[-2:], "big")


def select(rt, aid=TOY_AID, cla="00"):
    return tx(rt, f"{cla}A40400{len(aid):02X}{aid.hex()}00")


def test_select_and_credit():
    rt = make_runtime()
    data, sw = select(rt)
    assert sw == 0x9000 and TOY_AID in data
    assert tx(rt, "801000000400000005") == (b"", 0x6104)  # Le absent: T=0 style 61xx
    assert tx(rt, "00C0000004") == (bytes.fromhex("00000005"), 0x9000)
    rt.power_on()
    select(rt)
    assert tx(rt, "80100000040000000500") == (bytes.fromhex("0000000A"), 0x9000)  # durable


def test_unknown_aid_keeps_current_selection():
    rt = make_runtime()
    select(rt)
    assert select(rt, bytes.fromhex("F0000000AA01"))[1] == 0x6A82
    assert rt.selected() == TOY_AID


def test_partial_selection_first_and_next():
    a, b = TOY_AID, TOY_AID[:-1] + b"\x02"
    rt = make_runtime(a, b)
    assert select(rt, TOY_AID[:5])[1] == 0x9000 and rt.selected() == a
    assert tx(rt, f"00A40402{5:02X}{TOY_AID[:5].hex()}00")[1] == 0x9000
    assert rt.selected() == b
    assert tx(rt, f"00A40402{5:02X}{TOY_AID[:5].hex()}00")[1] == 0x6A82


def test_select_without_fci():
    rt = make_runtime()
    assert tx(rt, f"00A4040C07{TOY_AID.hex()}") == (b"", 0x9000)


def test_get_response_chain_for_long_answers():
    rt = make_runtime()
    select(rt)
    data, sw = tx(rt, "8012012C00")  # 300 bytes with Le=00
    assert len(data) == 256 and sw == 0x612C
    rest, sw = tx(rt, "00C000002C")
    assert sw == 0x9000 and data + rest == bytes(i & 0xFF for i in range(300))
    assert tx(rt, "00C0000010")[1] == 0x6985  # nothing pending any more


def test_wrong_le_gives_6cxx_and_rolls_back():
    rt = make_runtime()
    select(rt)
    assert tx(rt, "80100000040000000702") == (b"", 0x6C04)
    assert tx(rt, "80100000040000000704") == (bytes.fromhex("00000007"), 0x9000)


def test_extended_read():
    rt = make_runtime()
    select(rt)
    out = rt.transmit(bytes.fromhex("80120103000000"))
    assert len(out) == 0x103 + 2 and out[-2:] == b"\x90\x00"


def test_chaining_reassembles_data():
    rt = make_runtime()
    select(rt)
    assert tx(rt, "9014000003010203")[1] == 0x9000
    assert tx(rt, "80140000020405 00".replace(" ", "")) == (bytes.fromhex("0102030405"), 0x9000)
    assert tx(rt, "9014000001AA")[1] == 0x9000
    assert tx(rt, "801000000400000001")[1] == 0x6883  # other INS mid-chain


def test_logical_channels():
    rt = make_runtime()
    data, sw = tx(rt, "0070000001")
    assert sw == 0x9000 and data == b"\x01"
    assert select(rt, cla="01")[1] == 0x9000
    assert select(rt)[1] == 0x6985  # not multiselectable: already selected on channel 1
    assert tx(rt, "00708001")[1] == 0x9000
    assert select(rt)[1] == 0x9000
    assert tx(rt, "02A4040007" + TOY_AID.hex())[1] == 0x6881  # channel 2 not open
    for _ in range(3):
        tx(rt, "0070000001")
    assert tx(rt, "0070000001")[1] == 0x6A81  # all four in use


def test_multiselectable_applet_on_two_channels():
    rt = make_runtime(module=MODULE_AID[:-1] + b"\x02")
    select(rt)
    tx(rt, "0070000001")
    assert select(rt, cla="01")[1] == 0x9000


def test_errors_become_status_words_and_bugs_are_reported():
    rt = make_runtime()
    select(rt)
    assert tx(rt, "80160000")[1] == 0x6F00
    assert rt.internal_errors and "a bug in an applet" in rt.internal_errors[0]
    assert tx(rt, "80990000")[1] == 0x6D00
    assert tx(rt, "00100000")[1] == 0x6E00
    assert tx(rt, "8010000003000005")[1] == 0x6700
    assert tx(rt, "FF100000")[1] == 0x6E00
    assert rt.transmit(b"\x80\x10") == b"\x67\x00"


def test_failed_command_writes_nothing():
    rt = make_runtime()
    select(rt)
    tx(rt, "80100000040000000A04")
    before = rt.chip.snapshot()
    assert tx(rt, "801000000400FFFFFF04")[1] == 0x6A80
    assert rt.chip.snapshot() == before


def test_unpowered_chip_is_mute():
    rt = make_runtime()
    rt.power_off()
    with pytest.raises(CardMute):
        rt.transmit(bytes.fromhex("00A4040000"))


def test_fault_injection():
    rt = make_runtime()
    select(rt)
    rt.faults.append(ForcedSW(ins=0x10, sw=0x6581))
    assert tx(rt, "80100000040000000104")[1] == 0x6581
    assert tx(rt, "80100000040000000104")[1] == 0x9000
    rt.faults.append(TruncatedResponse(ins=0x10, keep=1))
    assert len(rt.transmit(bytes.fromhex("80100000040000000104"))) == 1
    rt.faults.append(MuteCard())
    with pytest.raises(CardMute):
        rt.transmit(bytes.fromhex("80100000040000000104"))
    assert not rt.powered


def _state(rt: ChipRuntime) -> tuple[int, int, tuple]:
    view = rt.chip.content.instance(TOY_AID).store
    counter = view.get("counter", 0)
    return view.get("balance", 0), counter, view.get(f"log/{(counter - 1) % 4}")


def test_tear_at_every_write_keeps_balance_counter_and_log_together():
    for n in range(6):  # tear point 0 (before the first write) to after the commit
        rt = make_runtime()
        select(rt)
        tx(rt, "80100000040000000A04")
        rt.chip.memory.arm_tear(n)
        try:
            out = rt.transmit(bytes.fromhex("80100000040000000504"))
            torn = False
        except CardMute:
            torn = True
        rt.chip.memory.disarm_tear()
        rt.power_on()
        balance, counter, last = _state(rt)
        assert (balance, counter) in ((10, 1), (15, 2)), f"tear at {n}"
        assert last == (counter - 1, 10 if counter == 1 else 5, balance)
        if not torn:
            assert out[-2:] == b"\x90\x00" and balance == 15


def test_image_round_trip_and_fork(tmp_path):
    card = SimulatedCard()
    card.card.chip2.content.install(LOAD_FILE_AID, MODULE_AID, TOY_AID)
    card.card.stripe.track2 = ";1234=2512201?"
    card.power_on()
    rt = card.chip2
    select(rt)
    tx(rt, "80100000040000002A04")
    card.save(tmp_path / "card.json")
    again = SimulatedCard.load(tmp_path / "card.json")
    select(again.chip2)
    assert tx(again.chip2, "80100000040000000104")[0] == bytes.fromhex("0000002B")
    assert again.card.stripe.track2 == ";1234=2512201?"
    twin = card.fork()
    select(twin.chip2)
    tx(twin.chip2, "80100000040000000104")
    select(card.chip2)
    assert tx(card.chip2, "80100000040000000004")[0] == bytes.fromhex("0000002A")


apdus = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda cla, ins, p1, p2, data: bytes([cla, ins, p1, p2, len(data)]) + data,
              st.sampled_from([0x00, 0x80, 0x84, 0x01, 0x10, 0x90, 0xFF, 0x40]),
              st.sampled_from([0xA4, 0x70, 0xC0, 0x10, 0x12, 0x14, 0x16, 0xCA, 0x00]),
              st.integers(0, 255), st.integers(0, 255), st.binary(max_size=20)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(apdus, min_size=1, max_size=15))
def test_fuzz_never_raises_and_always_ends_in_sw(seq):
    rt = make_runtime()
    for raw in seq:
        out = rt.transmit(raw)
        assert len(out) >= 2
    assert all("a bug in an applet" in e for e in rt.internal_errors)
