"""PC/SC transport logic against a stand-in for pyscard's scard module (no pcscd needed)."""

from __future__ import annotations

import types
from typing import Any

import pytest

from host.cli.errors import exit_code_for
from host.cli.exit_codes import ExitCode
from host.transport import pcsc
from host.transport.base import (
    CardRemovedError,
    NoCardError,
    NoReaderError,
    ReaderAmbiguousError,
    TransportFailure,
)
from host.transport.pcsc import PCSCTransport, PCSCUnavailableError, list_pcsc_readers

pytestmark = pytest.mark.unit

OK = 0
E_NO_SMARTCARD = 0x8010000C
E_NO_SERVICE = 0x8010001D
E_NO_READERS = 0x8010002E
W_REMOVED = 0x80100069
E_TIMEOUT = 0x8010000A


class FakeSCard(types.SimpleNamespace):
    """Just enough of ``smartcard.scard``; results are scripted per call."""

    def __init__(self, readers: list[str], **results: int) -> None:
        super().__init__(
            SCARD_S_SUCCESS=OK, SCARD_SCOPE_USER=0, SCARD_SHARE_SHARED=2,
            SCARD_SHARE_EXCLUSIVE=1, SCARD_PROTOCOL_T0=1, SCARD_PROTOCOL_T1=2,
            SCARD_LEAVE_CARD=0, SCARD_RESET_CARD=1,
            SCARD_E_NO_SERVICE=E_NO_SERVICE, SCARD_E_SERVICE_STOPPED=0x8010001E,
            SCARD_E_NO_READERS_AVAILABLE=E_NO_READERS, SCARD_E_UNKNOWN_READER=0x80100009,
            SCARD_E_READER_UNAVAILABLE=0x80100017, SCARD_W_REMOVED_CARD=W_REMOVED,
            SCARD_E_NO_SMARTCARD=E_NO_SMARTCARD,
        )
        self.readers = readers
        self.results = results
        self.calls: list[tuple[str, Any]] = []
        self.released = 0

    def _result(self, name: str) -> int:
        return self.results.get(name, OK)

    def SCardGetErrorMessage(self, hresult: int) -> str:
        return f"error {hresult:X}"

    def SCardEstablishContext(self, scope: int) -> tuple[int, int]:
        return self._result("establish"), 7

    def SCardReleaseContext(self, context: int) -> int:
        self.released += 1
        return OK

    def SCardListReaders(self, context: int, groups: list[str]) -> tuple[int, list[str]]:
        return self._result("list"), list(self.readers)

    def SCardConnect(self, context: int, reader: str, share: int, protocols: int):
        self.calls.append(("connect", (reader, share, protocols)))
        return self._result("connect"), 99, 2

    def SCardStatus(self, card: int):
        return OK, "r", 0, 2, [0x3B, 0x00]

    def SCardReconnect(self, card: int, share: int, protocols: int, init: int):
        self.calls.append(("reconnect", init))
        return self._result("reconnect"), 2

    def SCardTransmit(self, card: int, protocol: int, apdu: list[int]):
        self.calls.append(("transmit", apdu))
        return self._result("transmit"), [0x90, 0x00]

    def SCardDisconnect(self, card: int, disposition: int) -> int:
        self.calls.append(("disconnect", disposition))
        return OK


def use(monkeypatch: pytest.MonkeyPatch, fake: FakeSCard) -> FakeSCard:
    monkeypatch.setattr(pcsc, "load_pyscard", lambda: fake)
    return fake


def test_round_trip_converts_bytes_only_at_the_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = use(monkeypatch, FakeSCard(["R 00 00"]))
    with PCSCTransport("R 00 00") as transport:
        assert transport.atr == b"\x3b\x00"
        assert transport.protocol == "T=1"
        assert transport.transmit(bytes.fromhex("00A40400")) == b"\x90\x00"
        assert transport.reset() == b"\x3b\x00"
    assert ("transmit", [0x00, 0xA4, 0x04, 0x00]) in fake.calls
    assert ("reconnect", 1) in fake.calls
    assert fake.calls[0] == ("connect", ("R 00 00", 2, 3))  # shared, T=0|T=1
    assert fake.calls[-1] == ("disconnect", 0)
    assert fake.released == 1


def test_protocol_and_share_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = use(monkeypatch, FakeSCard(["R"]))
    PCSCTransport("R", protocol="T0", share="exclusive").connect()
    assert fake.calls[0] == ("connect", ("R", 1, 1))
    with pytest.raises(ValueError, match="protocol"):
        PCSCTransport("R", protocol="T2")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("step", "code", "error"),
    [("connect", E_NO_SMARTCARD, NoCardError), ("transmit", W_REMOVED, CardRemovedError),
     ("establish", E_NO_SERVICE, TransportFailure), ("reconnect", E_TIMEOUT, TransportFailure),
     ("connect", 0x80100009, NoReaderError)],
)
def test_pcsc_errors_map_to_the_hierarchy(
    monkeypatch: pytest.MonkeyPatch, step: str, code: int, error: type[Exception]
) -> None:
    use(monkeypatch, FakeSCard(["R"], **{step: code}))
    transport = PCSCTransport("R")
    with pytest.raises(error, match=f"{code:08X}"):
        transport.connect()
        transport.transmit(b"\x00\xa4\x04\x00")
        transport.reset()


def test_no_service_says_to_start_pcscd(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pcscd means no reader: the CLI's exit code 3, as for a reader that is not there."""
    use(monkeypatch, FakeSCard([], establish=E_NO_SERVICE))
    with pytest.raises(TransportFailure, match="is pcscd running") as raised:
        list_pcsc_readers()
    assert isinstance(raised.value, NoReaderError)
    assert exit_code_for(raised.value) == ExitCode.NO_READER


def test_list_readers_empty_when_none_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = use(monkeypatch, FakeSCard(["x"], list=E_NO_READERS))
    assert list_pcsc_readers() == []
    assert fake.released == 1


def test_from_selector_refuses_to_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, FakeSCard(["Virtual PCD 00 00", "Virtual PCD 00 01"]))
    assert PCSCTransport.from_selector("Virtual", chip=2).reader == "Virtual PCD 00 01"
    with pytest.raises(ReaderAmbiguousError):
        PCSCTransport.from_selector("Virtual")


def test_use_before_connect_is_a_clear_error() -> None:
    with pytest.raises(TransportFailure, match="call connect"):
        PCSCTransport("R").transmit(b"\x00\xa4\x04\x00")


def test_disconnect_twice_is_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, FakeSCard(["R"]))
    transport = PCSCTransport("R")
    transport.connect()
    transport.disconnect()
    transport.disconnect()


def test_missing_pyscard_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_smartcard(name: str) -> Any:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(pcsc.importlib, "import_module", no_smartcard)
    with pytest.raises(PCSCUnavailableError, match=r"dualcard\[pcsc\]"):
        pcsc.load_pyscard()
