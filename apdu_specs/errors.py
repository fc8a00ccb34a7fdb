"""Typed errors of the protocol layer.

Every malformed input surfaces as one of these, naming what was wrong, so that
neither side ever leaks an ``IndexError`` or ``struct.error`` to its caller.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """Base of every error raised while parsing or building protocol data."""


class HexError(ProtocolError):
    """Text that should be hexadecimal is not."""


class APDUFormatError(ProtocolError):
    """A command or response APDU whose bytes do not form a valid APDU."""


class TLVError(ProtocolError):
    """BER-TLV or DOL bytes that do not parse."""


class SpecError(ProtocolError):
    """Fields that do not fit a command spec (build) or bytes that do not (parse).

    ``sw`` is the status word a card answers for the same defect, so the card
    dispatcher and the host agree on what each defect means.
    """

    def __init__(self, message: str, sw: int = 0x6A80) -> None:
        super().__init__(message)
        self.sw = sw
