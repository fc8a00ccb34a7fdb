"""GET RESPONSE (61xx) and wrong-Le (6Cxx) handling above any transport (domain-facts §1.2)."""

from __future__ import annotations

import pytest

from host.transport.base import Transport, TransportFailure, TransportWrapper
from host.transport.t0 import T0Transport, get_response_command
from simulator.vpcd.toy_chip import TOY_FILE, TOY_OBJECT, ToyChip

pytestmark = pytest.mark.unit


class RecordingChipTransport:
    """A Transport straight onto a chip object, remembering every command."""

    def __init__(self, chip: ToyChip) -> None:
        self.chip = chip
        self.sent: list[bytes] = []

    @property
    def atr(self) -> bytes:
        return self.chip.atr

    def connect(self) -> None:
        self.chip.power_on()

    def disconnect(self) -> None:
        self.chip.power_off()

    def reset(self) -> bytes:
        return self.chip.reset()

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        return self.chip.transmit(apdu)


class ScriptedTransport(RecordingChipTransport):
    """Answers from a fixed list of responses, in order."""

    def __init__(self, *responses: str) -> None:
        super().__init__(ToyChip())
        self.responses = [bytes.fromhex(r) for r in responses]

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        return self.responses.pop(0)


def test_both_doubles_satisfy_the_transport_protocol() -> None:
    assert isinstance(RecordingChipTransport(ToyChip()), Transport)
    assert isinstance(T0Transport(ScriptedTransport()), Transport)


def test_61xx_is_completed_with_get_response() -> None:
    inner = RecordingChipTransport(ToyChip())
    response = T0Transport(inner).transmit(bytes.fromhex("00B0000000"))
    assert response == TOY_FILE + b"\x90\x00"
    assert inner.sent == [bytes.fromhex("00B0000000"), bytes.fromhex("00C0000000")]


def test_61xx_chains_are_concatenated() -> None:
    inner = ScriptedTransport("AABB6102", "CCDD6101", "EE9000")
    response = T0Transport(inner).transmit(bytes.fromhex("00CB3FFF00"))
    assert response == bytes.fromhex("AABBCCDDEE9000")
    assert inner.sent[1:] == [bytes.fromhex("00C0000002"), bytes.fromhex("00C0000001")]


def test_6cxx_resends_with_the_right_le() -> None:
    inner = RecordingChipTransport(ToyChip())
    response = T0Transport(inner).transmit(bytes.fromhex("00CA000000"))
    assert response == TOY_OBJECT + b"\x90\x00"
    assert inner.sent == [bytes.fromhex("00CA000000"), bytes.fromhex("00CA000008")]


def test_6cxx_then_61xx_on_a_case_4_command() -> None:
    inner = ScriptedTransport("6C10", "6110", "00" * 16 + "9000")
    response = T0Transport(inner).transmit(bytes.fromhex("80CA000001AA00"))
    assert response == bytes(16) + b"\x90\x00"
    assert inner.sent[1] == bytes.fromhex("80CA000001AA10")
    assert inner.sent[2] == bytes.fromhex("00C0000010")


@pytest.mark.parametrize(("sent", "resent"), [
    ("00A40400000002AABB0000", "00A40400000002AABB0010"),  # case 4E stays extended
    ("00B00000000000", "00B00000000010"),                  # case 2E too
    ("00A4040002AABB", "00A4040002AABB10"),                # case 3S gains an Le
])
def test_6cxx_resend_keeps_the_form_of_the_command(sent: str, resent: str) -> None:
    inner = ScriptedTransport("6C10", "9000")
    T0Transport(inner).transmit(bytes.fromhex(sent))
    assert inner.sent[1] == bytes.fromhex(resent)


def test_6cxx_to_a_malformed_command_is_left_to_the_caller() -> None:
    inner = ScriptedTransport("6C10")
    assert T0Transport(inner).transmit(bytes.fromhex("00A4040003AA")) == bytes.fromhex("6C10")
    assert len(inner.sent) == 1


def test_6cxx_is_retried_only_once() -> None:
    inner = ScriptedTransport("6C08", "6C04")
    assert T0Transport(inner).transmit(bytes.fromhex("00CA000000")) == bytes.fromhex("6C04")
    assert len(inner.sent) == 2


def test_other_status_words_pass_through_untouched() -> None:
    inner = ScriptedTransport("6A82")
    assert T0Transport(inner).transmit(bytes.fromhex("00A4040000")) == bytes.fromhex("6A82")


def test_endless_61xx_is_a_transport_failure() -> None:
    inner = ScriptedTransport(*["006101"] * 10)
    with pytest.raises(TransportFailure, match="still answered 61xx"):
        T0Transport(inner, max_get_response=3).transmit(bytes.fromhex("00B0000000"))


def test_short_response_is_a_transport_failure() -> None:
    with pytest.raises(TransportFailure, match="too short"):
        T0Transport(ScriptedTransport("90")).transmit(bytes.fromhex("00A4040000"))


@pytest.mark.parametrize(
    ("cla", "expected"),
    [(0x00, 0x00), (0x01, 0x01), (0x0C, 0x00), (0x84, 0x00), (0x83, 0x03),
     (0x40, 0x40), (0x6F, 0x4F), (0x80, 0x00)],
)
def test_get_response_keeps_only_the_logical_channel(cla: int, expected: int) -> None:
    assert get_response_command(cla, 0x10) == bytes((expected, 0xC0, 0, 0, 0x10))


def test_wrappers_compose_and_delegate_lifecycle() -> None:
    inner = RecordingChipTransport(ToyChip())
    stacked = T0Transport(TransportWrapper(inner))
    with stacked:
        assert stacked.atr == inner.chip.atr
        assert stacked.reset() == inner.chip.atr
        assert stacked.transmit(bytes.fromhex("00B0000000"))[-2:] == b"\x90\x00"
    assert inner.chip.resets == 1 and not inner.chip.powered
