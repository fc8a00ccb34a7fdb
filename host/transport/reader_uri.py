"""Reader addresses as the CLI and configuration spell them.

- ``pcsc:SELECTOR``  a PC/SC reader; SELECTOR as in :mod:`host.transport.reader_select`
                     (exact name, substring, ``re:REGEX``, ``#N``; empty = any).
                     ``pcsc:Virtual PCD`` names both slots of the virtual
                     dual-slot reader: slot 00 is chip 1, slot 01 is chip 2.
- ``sim:IMAGE``      the in-process simulator with the card image at IMAGE;
                     ``sim`` or ``sim:`` for a fresh default card.
- anything else      taken as a PC/SC selector, so a bare reader name works.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.transport.base import ReaderSpecError

__all__ = ["PCSCAddress", "ReaderAddress", "SimAddress", "format_reader_uri", "parse_reader_uri"]

_PCSC = "pcsc:"
_SIM = "sim:"


@dataclass(frozen=True, slots=True)
class PCSCAddress:
    """A reader (or both slots of a dual-slot reader) reached through PC/SC."""

    selector: str = ""


@dataclass(frozen=True, slots=True)
class SimAddress:
    """The in-process simulator, optionally loading a card image file."""

    image: str | None = None


ReaderAddress = PCSCAddress | SimAddress


def parse_reader_uri(text: str) -> ReaderAddress:
    """Parse a ``--reader`` value."""
    value = text.strip()
    if not value:
        raise ReaderSpecError("empty reader address; use pcsc:NAME, pcsc:#N or sim:IMAGE")
    lowered = value.casefold()
    if lowered == "sim":
        return SimAddress()
    if lowered.startswith(_SIM):
        return SimAddress(value[len(_SIM) :].strip() or None)
    if lowered.startswith(_PCSC):
        return PCSCAddress(value[len(_PCSC) :].strip())
    return PCSCAddress(value)


def format_reader_uri(address: ReaderAddress) -> str:
    """The canonical text of ``address`` (parses back to an equal address)."""
    match address:
        case SimAddress(image=None):
            return "sim:"
        case SimAddress(image=image):
            return f"{_SIM}{image}"
        case PCSCAddress(selector=selector):
            return f"{_PCSC}{selector}"
    raise TypeError(f"not a reader address: {address!r}")
