"""Typed errors of the protocol layer, and the root of every dualcard error.

Every malformed input surfaces as one of these, naming what was wrong, so that
neither side ever leaks an ``IndexError`` or ``struct.error`` to its caller.

Every exception class of ``apdu_specs``, ``cardlib``, ``simulator`` and ``host``
derives from :class:`DualcardError` and, when it can be raised, from exactly one of
its two branches: :class:`RemoteError` (the other side answered no, or wrongly) or
:class:`LocalError` (the caller's input or use is wrong). The tree is described in
docs/decisions.md.
"""

from __future__ import annotations


class DualcardError(Exception):
    """Root of every error dualcard raises: ``except DualcardError`` catches them all."""


class RemoteError(DualcardError):
    """The other side answered no, or wrongly: a card's status word, a MAC, cryptogram or
    read-back that does not match, a card or reader that went away, a decline.

    The caller's own input was acceptable; whether to retry depends on the error.
    """


class LocalError(DualcardError):
    """The caller's input or use is wrong: malformed data, a bad argument or file, a
    configuration that does not fit, a call in the wrong state. Retrying it as is fails again.
    """


class ProtocolError(LocalError, ValueError):
    """Base of every error raised while parsing or building protocol data.

    A codec cannot tell where its bytes came from, so these are :class:`LocalError`: the
    data handed to it is malformed. A host layer that parses a card's answer names the
    card instead (for example ``host.payment.errors.CardDataError``).
    """


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
