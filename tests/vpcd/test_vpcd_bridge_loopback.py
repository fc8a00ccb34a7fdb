"""The bridge against a fake vpcd on loopback: framing, controls, hooks, reconnects."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from simulator.errors import CardMute
from simulator.vpcd.bridge import VPCDBridge, serve_card
from simulator.vpcd.framing import ControlCode, encode_control, encode_frame
from simulator.vpcd.toy_chip import TOY_ATR, ToyChip

pytestmark = pytest.mark.unit

SELECT = bytes.fromhex("00A4040007F0000000010001")
GET_ATR = encode_control(ControlCode.GET_ATR)


class FakeVPCD:
    """Plays vpcd's side of one slot: listens, accepts the bridge, sends frames."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(10)
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> socket.socket:
        if self.conn is not None:
            self.conn.close()
        self.conn, _ = self.server.accept()
        self.conn.settimeout(10)
        return self.conn

    def accept_fresh(self) -> None:
        """Accept a bridge doing a fresh insertion: first GET ATR closes, then it is back."""
        self.accept()
        self.send(GET_ATR)
        assert self.conn is not None and self.conn.recv(1) == b""
        self.accept()

    def send(self, *chunks: bytes) -> None:
        assert self.conn is not None
        for chunk in chunks:
            self.conn.sendall(chunk)

    def read_frame(self) -> bytes:
        header = self._exactly(2)
        return self._exactly(int.from_bytes(header, "big"))

    def ask(self, payload: bytes) -> bytes:
        self.send(encode_frame(payload))
        return self.read_frame()

    def _exactly(self, size: int) -> bytes:
        assert self.conn is not None
        data = b""
        while len(data) < size:
            chunk = self.conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError("bridge closed the connection")
            data += chunk
        return data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVPCD]:
    fake = FakeVPCD()
    yield fake
    fake.close()


@pytest.fixture
def chip() -> ToyChip:
    return ToyChip()


@pytest.fixture
def bridge(vpcd: FakeVPCD, chip: ToyChip) -> Iterator[VPCDBridge]:
    b = VPCDBridge(chip, port=vpcd.port, retry_min=0.01, retry_max=0.05, fresh_insertion=False)
    b.start()
    vpcd.accept()
    yield b
    b.stop()


def test_get_atr_is_answered_and_power_controls_are_not(
    vpcd: FakeVPCD, bridge: VPCDBridge, chip: ToyChip
) -> None:
    assert vpcd.ask(b"\x04") == TOY_ATR
    vpcd.send(encode_control(ControlCode.POWER_ON), encode_control(ControlCode.RESET),
              encode_control(ControlCode.POWER_OFF), GET_ATR)
    assert vpcd.read_frame() == TOY_ATR  # the first reply is the ATR: nothing came before it
    assert (chip.power_ups, chip.resets, chip.powered) == (1, 1, False)


def test_apdu_is_answered_with_the_chip_response(vpcd: FakeVPCD, bridge: VPCDBridge) -> None:
    assert vpcd.ask(SELECT) == bytes.fromhex("9000")
    assert vpcd.ask(bytes.fromhex("00B0000000")) == bytes.fromhex("6100")
    assert vpcd.ask(bytes.fromhex("00C0000000")) == bytes(range(256)) + b"\x90\x00"


def test_frames_split_across_writes_or_sharing_one_write(
    vpcd: FakeVPCD, bridge: VPCDBridge
) -> None:
    frame = encode_frame(SELECT)
    vpcd.send(frame[:2])  # length first, body later: what older vpcd versions did
    vpcd.send(frame[2:])
    assert vpcd.read_frame() == b"\x90\x00"
    vpcd.send(*[bytes((b,)) for b in frame])
    assert vpcd.read_frame() == b"\x90\x00"
    vpcd.send(GET_ATR + frame + GET_ATR)
    assert [vpcd.read_frame() for _ in range(3)] == [TOY_ATR, b"\x90\x00", TOY_ATR]


def test_unknown_control_and_empty_frames_are_ignored(vpcd: FakeVPCD, bridge: VPCDBridge) -> None:
    vpcd.send(b"\x00\x01\x03", b"\x00\x00", GET_ATR)
    assert vpcd.read_frame() == TOY_ATR


def test_on_apdu_hook_sees_each_exchange(vpcd: FakeVPCD, chip: ToyChip) -> None:
    seen: list[tuple[int, bytes, bytes, float]] = []
    with VPCDBridge(chip, slot=1, port=vpcd.port, fresh_insertion=False,
                    on_apdu=lambda *event: seen.append(event)):
        vpcd.accept()
        vpcd.ask(SELECT)
        vpcd.ask(b"\x04")
    ((slot, command, response, seconds),) = seen
    assert (slot, command, response) == (1, SELECT, b"\x90\x00")
    assert seconds >= 0


class _BrokenChip(ToyChip):
    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xEE:
            raise RuntimeError("boom")
        if apdu[1] == 0xEF:
            return b"\x90"  # truncated by fault injection: passed on untouched
        if apdu[1] == 0xF0:
            return bytes(0x10000)  # cannot be framed for vpcd
        return super().transmit(apdu)


def test_faults_become_6f00_and_a_failing_hook_is_survived(vpcd: FakeVPCD) -> None:
    def bad_hook(*_: object) -> None:
        raise ValueError("hook bug")

    with VPCDBridge(_BrokenChip(), port=vpcd.port, on_apdu=bad_hook, fresh_insertion=False):
        vpcd.accept()
        assert vpcd.ask(bytes.fromhex("00EE0000")) == b"\x6f\x00"
        assert vpcd.ask(bytes.fromhex("00EF0000")) == b"\x90"
        assert vpcd.ask(bytes.fromhex("00F00000")) == b"\x6f\x00"
        assert vpcd.ask(SELECT) == b"\x90\x00"


def test_reconnects_after_vpcd_drops_the_connection(vpcd: FakeVPCD, bridge: VPCDBridge) -> None:
    assert vpcd.ask(b"\x04") == TOY_ATR
    assert vpcd.conn is not None
    vpcd.conn.close()
    vpcd.accept()
    assert vpcd.ask(SELECT) == b"\x90\x00"
    assert bridge.connections == 2


def test_reconnects_when_vpcd_comes_back_on_the_same_port(chip: ToyChip) -> None:
    first = FakeVPCD()
    port = first.port
    bridge = VPCDBridge(chip, port=port, retry_min=0.01, retry_max=0.05, fresh_insertion=False)
    bridge.start()
    try:
        first.accept()
        assert first.ask(b"\x04") == TOY_ATR
        first.close()  # pcscd goes away: listener and connection
        second = FakeVPCD(port)  # and comes back
        try:
            second.accept()
            assert second.ask(SELECT) == b"\x90\x00"
        finally:
            second.close()
    finally:
        bridge.stop()


def test_stop_ends_the_thread_while_connected(vpcd: FakeVPCD, chip: ToyChip) -> None:
    bridge = VPCDBridge(chip, port=vpcd.port, fresh_insertion=False)
    bridge.start()
    vpcd.accept()
    assert bridge.wait_connected(10)
    bridge.stop()
    assert not bridge.connected and not bridge.running
    assert vpcd.conn is not None and vpcd.conn.recv(1) == b""  # bridge closed its side


def test_stop_ends_the_thread_while_vpcd_is_absent(chip: ToyChip) -> None:
    closed = FakeVPCD()
    port = closed.port
    closed.close()
    bridge = VPCDBridge(chip, port=port, retry_min=0.01, retry_max=0.05, fresh_insertion=False)
    bridge.start()
    assert not bridge.wait_connected(0.1)
    bridge.stop()
    assert not bridge.running


def test_connection_hook_reports_up_and_down(vpcd: FakeVPCD, chip: ToyChip) -> None:
    events: list[tuple[int, bool]] = []
    with VPCDBridge(chip, port=vpcd.port, fresh_insertion=False,
                    on_connection=lambda *e: events.append(e)):
        vpcd.accept()
        vpcd.ask(b"\x04")
    assert events == [(0, True), (0, False)]


def _free_port_pair() -> int:
    for base in range(41000, 42000, 2):
        try:
            with socket.create_server(("127.0.0.1", base)), \
                 socket.create_server(("127.0.0.1", base + 1)):
                return base
        except OSError:
            continue
    pytest.skip("no two consecutive free TCP ports on loopback")


def test_serve_card_puts_chip_n_on_port_base_plus_n() -> None:
    base = _free_port_pair()
    slot0, slot1 = FakeVPCD(base), FakeVPCD(base + 1)
    chips = [ToyChip(atr=bytes.fromhex("3B00")), ToyChip(atr=bytes.fromhex("3B01"))]
    stop = threading.Event()
    traced: list[int] = []
    server = threading.Thread(
        target=serve_card, args=(chips, "127.0.0.1", base),
        kwargs={"trace": lambda slot, *_: traced.append(slot), "stop_event": stop},
    )
    server.start()
    try:
        slot0.accept_fresh()
        slot1.accept_fresh()
        assert slot0.ask(b"\x04") == bytes.fromhex("3B00")
        assert slot1.ask(b"\x04") == bytes.fromhex("3B01")
        slot1.ask(SELECT)
    finally:
        stop.set()
        server.join(10)
        slot0.close()
        slot1.close()
    assert not server.is_alive()
    assert traced == [1]


def test_serve_card_needs_a_chip() -> None:
    with pytest.raises(ValueError, match="at least one chip"):
        serve_card([])


class _MuteChip(ToyChip):
    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xEE:
            raise CardMute("power lost")
        if apdu[1] == 0xED:
            return b""  # vpcd would read a zero-length answer as removal anyway
        return super().transmit(apdu)


def test_a_mute_chip_reads_as_removal_then_comes_back(vpcd: FakeVPCD) -> None:
    bridge = VPCDBridge(_MuteChip(), port=vpcd.port, fresh_insertion=False)
    with bridge:
        vpcd.accept()
        assert vpcd.ask(SELECT) == b"\x90\x00"
        vpcd.send(encode_frame(bytes.fromhex("00EE0000")))
        assert vpcd.conn is not None and vpcd.conn.recv(1) == b""  # no answer: closed
        vpcd.accept()  # re-inserted
        assert vpcd.ask(b"\x04") == TOY_ATR
        vpcd.send(encode_frame(bytes.fromhex("00ED0000")))
        assert vpcd.conn is not None and vpcd.conn.recv(1) == b""
        vpcd.accept()
        assert vpcd.ask(b"\x04") == TOY_ATR  # served, so the connection is counted
        assert bridge.connections == 3


def test_present_false_takes_the_card_out_until_true(vpcd: FakeVPCD, chip: ToyChip) -> None:
    inserted = [True]
    bridge = VPCDBridge(chip, port=vpcd.port, present=lambda: inserted[0],
                        fresh_insertion=False)
    with bridge:
        vpcd.accept()
        assert vpcd.ask(b"\x04") == TOY_ATR
        inserted[0] = False
        vpcd.send(GET_ATR)
        assert vpcd.conn is not None and vpcd.conn.recv(1) == b""
        assert not bridge.wait_connected(0.2)
        inserted[0] = True
        vpcd.accept()
        assert vpcd.ask(b"\x04") == TOY_ATR


def test_a_failing_presence_check_counts_as_absent(vpcd: FakeVPCD, chip: ToyChip) -> None:
    def broken() -> bool:
        raise RuntimeError("bug")

    with VPCDBridge(chip, port=vpcd.port, present=broken) as bridge:
        assert not bridge.wait_connected(0.2)


def test_fresh_insertion_shows_pcscd_an_empty_slot_once(vpcd: FakeVPCD, chip: ToyChip) -> None:
    events: list[tuple[int, bool]] = []
    with VPCDBridge(chip, port=vpcd.port, empty_slot_hold=0.05,
                    on_connection=lambda *e: events.append(e)) as bridge:
        vpcd.accept_fresh()
        assert vpcd.ask(b"\x04") == TOY_ATR  # answered on the second connection
        assert vpcd.ask(b"\x04") == TOY_ATR
        assert vpcd.conn is not None
        vpcd.conn.close()  # vpcd drops the card: the next attachment is fresh again
        vpcd.conn = None
        vpcd.accept_fresh()
        assert vpcd.ask(SELECT) == b"\x90\x00"
        assert bridge.connections == 4
    assert events == [(0, True), (0, False), (0, True), (0, False)]  # the empty step is silent
