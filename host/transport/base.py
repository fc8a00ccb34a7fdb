"""The one interface every card transport offers, and the errors they raise.

A transport moves raw APDU bytes to one chip and back; it does not interpret
status words. GET RESPONSE handling, tracing and secure messaging are wrappers
(:class:`TransportWrapper` subclasses) that take any ``Transport`` and compose
without looking at what is underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = [
    "CardRemovedError",
    "NoCardError",
    "NoReaderError",
    "ReaderAmbiguousError",
    "ReaderSpecError",
    "Transport",
    "TransportError",
    "TransportFailure",
    "TransportWrapper",
]


@runtime_checkable
class Transport(Protocol):
    """A connection to one chip: power/connect, ATR, reset and APDU exchange."""

    @property
    def atr(self) -> bytes:
        """ATR of the connected chip (raises if not connected)."""
        ...

    def connect(self) -> None:
        """Open the connection (powering the chip if needed)."""
        ...

    def disconnect(self) -> None:
        """Close the connection; calling it twice is harmless."""
        ...

    def reset(self) -> bytes:
        """Warm-reset the chip and return its ATR."""
        ...

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, return the response APDU (data || SW1 SW2)."""
        ...


class TransportError(DualcardError):
    """Base of every error a transport raises (a reader selector that cannot be understood is
    a :class:`LocalError`, everything the reader stack reports a :class:`RemoteError`)."""


class ReaderSpecError(TransportError, LocalError):
    """A reader selector that cannot be understood (e.g. a bad regex or URI)."""


class NoReaderError(TransportError, RemoteError):
    """No reader matches, or no reader is attached at all."""

    def __init__(self, message: str, available: Sequence[str] = ()) -> None:
        self.available = tuple(available)
        if self.available:
            message = f"{message}; available readers: {', '.join(self.available)}"
        super().__init__(message)


class ReaderAmbiguousError(TransportError, LocalError):
    """Several readers match and the caller must say which one."""

    def __init__(self, message: str, candidates: Sequence[str]) -> None:
        self.candidates = tuple(candidates)
        super().__init__(f"{message}: {', '.join(self.candidates)}")


class NoCardError(TransportError, RemoteError):
    """The reader is there but holds no card."""


class CardRemovedError(NoCardError):
    """The card went away while connected."""


class TransportFailure(TransportError, RemoteError):
    """The stack below failed: service down, communication error, bad response."""


class TransportWrapper:
    """Delegates everything to ``inner``; subclasses override what they change.

    Wrappers only use the :class:`Transport` members of ``inner``, so they stack
    in any order on any transport.
    """

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def connect(self) -> None:
        self.inner.connect()

    def disconnect(self) -> None:
        self.inner.disconnect()

    def reset(self) -> bytes:
        return self.inner.reset()

    def transmit(self, apdu: bytes) -> bytes:
        return self.inner.transmit(apdu)

    def __enter__(self) -> TransportWrapper:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
