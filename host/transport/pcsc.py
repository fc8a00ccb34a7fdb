"""PC/SC transport through pyscard's thin ``smartcard.scard`` layer.

pyscard is an optional extra (``dualcard[pcsc]``) and is imported on first use,
so the rest of the host library installs and runs without it. pyscard speaks in
lists of ints; the conversion to and from ``bytes`` happens only here.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Literal

from host.transport.base import (
    CardRemovedError,
    NoCardError,
    NoReaderError,
    TransportError,
    TransportFailure,
)
from host.transport.reader_select import select_reader

__all__ = [
    "PCSCServiceError",
    "PCSCTransport",
    "PCSCUnavailableError",
    "list_pcsc_readers",
    "load_pyscard",
    "pcsc_reader_atrs",
]

PCSCProtocol = Literal["T0", "T1", "any"]
ShareMode = Literal["shared", "exclusive"]


class PCSCUnavailableError(TransportFailure):
    """pyscard is not installed, so PC/SC readers cannot be used."""


class PCSCServiceError(NoReaderError, TransportFailure):
    """pcscd does not answer: for the caller no reader is there (the CLI's exit code 3)."""


def load_pyscard() -> ModuleType:
    """Import ``smartcard.scard`` or explain how to get it."""
    try:
        return importlib.import_module("smartcard.scard")
    except ImportError as exc:
        raise PCSCUnavailableError(
            "PC/SC support needs pyscard: pip install 'dualcard[pcsc]' "
            "(building it needs libpcsclite-dev and swig)"
        ) from exc


def _error_for(scard: ModuleType, hresult: int, action: str) -> TransportError:
    """Map a PC/SC result code to the transport error hierarchy."""
    text = f"{action}: {scard.SCardGetErrorMessage(hresult)} (0x{hresult & 0xFFFFFFFF:08X})"
    if hresult in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
        return PCSCServiceError(f"{text}; is pcscd running?")
    if hresult in (
        scard.SCARD_E_NO_READERS_AVAILABLE,
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
    ):
        return NoReaderError(text)
    if hresult == scard.SCARD_W_REMOVED_CARD:
        return CardRemovedError(text)
    if hresult == scard.SCARD_E_NO_SMARTCARD:
        return NoCardError(text)
    return TransportFailure(text)


class _Context:
    """One PC/SC resource-manager context (a session with pcscd)."""

    def __init__(self, scard: ModuleType) -> None:
        self.scard = scard
        hresult, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error_for(scard, hresult, "cannot reach the PC/SC service")

    def readers(self) -> list[str]:
        scard = self.scard
        hresult, names = scard.SCardListReaders(self.handle, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error_for(scard, hresult, "cannot list readers")
        return list(names)

    def release(self) -> None:
        self.scard.SCardReleaseContext(self.handle)


def list_pcsc_readers() -> list[str]:
    """Names of the readers pcscd knows, in its order ([] when none)."""
    context = _Context(load_pyscard())
    try:
        return context.readers()
    finally:
        context.release()


def pcsc_reader_atrs() -> list[tuple[str, bytes | None]]:
    """Each reader with the ATR of the card in it (None when empty), read from pcscd's
    reader states: no card is connected to, powered or reset."""
    scard = load_pyscard()
    context = _Context(scard)
    try:
        names = context.readers()
        if not names:
            return []
        hresult, states = scard.SCardGetStatusChange(
            context.handle, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names])
        if hresult not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
            raise _error_for(scard, hresult, "cannot read the readers' states")
        return [(name, bytes(atr) if state & scard.SCARD_STATE_PRESENT and atr else None)
                for name, state, atr in states]
    finally:
        context.release()


class PCSCTransport:
    """A connection to the card in one PC/SC reader, named exactly."""

    def __init__(
        self, reader: str, *, protocol: PCSCProtocol = "any", share: ShareMode = "shared"
    ) -> None:
        if protocol not in ("T0", "T1", "any"):
            raise ValueError(f"protocol must be 'T0', 'T1' or 'any', got {protocol!r}")
        if share not in ("shared", "exclusive"):
            raise ValueError(f"share must be 'shared' or 'exclusive', got {share!r}")
        self.reader = reader
        self._wanted_protocol = protocol
        self._share = share
        self._scard: ModuleType | None = None
        self._context: _Context | None = None
        self._card: Any = None
        self._active_protocol = 0
        self._atr = b""

    @classmethod
    def from_selector(
        cls,
        spec: str | None,
        *,
        chip: int | None = None,
        ignore: Sequence[str] = (),
        protocol: PCSCProtocol = "any",
        share: ShareMode = "shared",
    ) -> PCSCTransport:
        """Resolve ``spec`` against the attached readers (never guessing)."""
        reader = select_reader(spec, list_pcsc_readers(), chip=chip, ignore=ignore)
        return cls(reader, protocol=protocol, share=share)

    def __repr__(self) -> str:
        state = "connected" if self._card is not None else "disconnected"
        return f"<PCSCTransport {self.reader!r} {state}>"

    # -- Transport -----------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        self._require_card()
        return self._atr

    @property
    def protocol(self) -> str:
        """Negotiated protocol, ``"T=0"`` or ``"T=1"``."""
        scard = self._require_card()
        return "T=0" if self._active_protocol == scard.SCARD_PROTOCOL_T0 else "T=1"

    def connect(self) -> None:
        if self._card is not None:
            return
        scard = self._scard or load_pyscard()
        self._scard = scard
        context = _Context(scard)
        hresult, card, active = scard.SCardConnect(
            context.handle, self.reader, self._share_flag(scard), self._protocol_flags(scard)
        )
        if hresult != scard.SCARD_S_SUCCESS:
            context.release()
            raise _error_for(scard, hresult, f"cannot connect to {self.reader!r}")
        self._context, self._card, self._active_protocol = context, card, active
        try:
            self._atr = self._status_atr()
        except TransportError:
            self.disconnect()
            raise

    def disconnect(self) -> None:
        scard, card, context = self._scard, self._card, self._context
        self._card = self._context = None
        self._atr = b""
        if scard is None:
            return
        if card is not None:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        if context is not None:
            context.release()

    def reset(self) -> bytes:
        scard = self._require_card()
        hresult, active = scard.SCardReconnect(
            self._card, self._share_flag(scard), self._protocol_flags(scard),
            scard.SCARD_RESET_CARD,
        )
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error_for(scard, hresult, f"cannot reset the card in {self.reader!r}")
        self._active_protocol = active
        self._atr = self._status_atr()
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        scard = self._require_card()
        hresult, response = scard.SCardTransmit(self._card, self._active_protocol, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error_for(scard, hresult, f"transmit to {self.reader!r} failed")
        if len(response) < 2:
            # vpcd reports a card that went mute mid-exchange as success with no bytes
            raise TransportFailure(
                f"the card in {self.reader!r} gave no status word "
                f"({len(response)} bytes): mute or removed"
            )
        return bytes(response)

    def __enter__(self) -> PCSCTransport:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    # -- helpers -------------------------------------------------------------------

    def _require_card(self) -> ModuleType:
        if self._card is None or self._scard is None:
            raise TransportFailure(f"not connected to {self.reader!r}; call connect() first")
        return self._scard

    def _status_atr(self) -> bytes:
        scard = self._require_card()
        hresult, _reader, _state, _protocol, atr = scard.SCardStatus(self._card)
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error_for(scard, hresult, f"cannot read the ATR in {self.reader!r}")
        return bytes(atr)

    def _protocol_flags(self, scard: ModuleType) -> int:
        return {
            "T0": scard.SCARD_PROTOCOL_T0,
            "T1": scard.SCARD_PROTOCOL_T1,
            "any": scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        }[self._wanted_protocol]

    def _share_flag(self, scard: ModuleType) -> int:
        if self._share == "exclusive":
            return scard.SCARD_SHARE_EXCLUSIVE
        return scard.SCARD_SHARE_SHARED
