"""Status words: one registry, one exception per side.

ISO/IEC 7816-4 §5.6 groups status words by SW1: ``9000``/``61xx`` normal
processing, ``62xx``/``63xx`` warnings, ``64xx``–``66xx`` execution errors,
``67xx``–``6Fxx`` checking errors. ``6982``–``6985`` and ``6988`` concern the
security state and are classed as such here, because hosts treat them
differently (stop, do not retry). PBOC purse codes (``93xx``/``94xx``) are
proprietary (domain-facts §5.6).

On the card, applets ``raise SWError(SW.X)`` and only the runtime turns the
exception into the two trailing bytes. On the host, :func:`check` raises
:class:`CardError`, which names the command, the SW and its meaning. ``63Cx``
(tries left) and ``61xx`` are data, not errors: see :func:`tries_left`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum

from .errors import RemoteError

__all__ = [
    "SW",
    "CardError",
    "SWCategory",
    "SWError",
    "StatusWord",
    "category",
    "check",
    "describe",
    "is_success",
    "tries_left",
]


class SWCategory(Enum):
    NORMAL = "normal processing"
    WARNING = "warning"
    EXECUTION = "execution error"
    CHECKING = "checking error"
    SECURITY = "security error"
    PROPRIETARY = "proprietary"


class SW(IntEnum):
    """Named status words (ISO/IEC 7816-4 §5.6, GlobalPlatform 2.3 §11, PBOC purse)."""

    OK = 0x9000
    # warnings
    NO_INFO_NVM_UNCHANGED = 0x6200
    DATA_CORRUPTED = 0x6281
    END_OF_FILE = 0x6282
    SELECTED_FILE_INVALIDATED = 0x6283
    BAD_FCI_FORMAT = 0x6284
    NVM_CHANGED = 0x6300
    MORE_DATA_AVAILABLE = 0x6310
    # execution errors
    EXECUTION_ERROR = 0x6400
    MEMORY_FAILURE = 0x6581
    # checking errors
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
    CHAINING_NOT_SUPPORTED = 0x6884
    COMMAND_INCOMPATIBLE_WITH_FILE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_NOT_USABLE = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    SM_DATA_OBJECTS_MISSING = 0x6987
    SM_DATA_OBJECTS_INCORRECT = 0x6988
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00
    # PBOC purse (proprietary)
    PURSE_MAC_INVALID = 0x9302
    PURSE_APPLICATION_LOCKED = 0x9303
    PURSE_INSUFFICIENT_BALANCE = 0x9401
    PURSE_COUNTER_EXHAUSTED = 0x9402
    PURSE_KEY_INDEX_NOT_SUPPORTED = 0x9403
    PURSE_MAC_NOT_AVAILABLE = 0x9406


_MEANINGS: dict[int, str] = {
    SW.OK: "success",
    SW.NO_INFO_NVM_UNCHANGED: "warning: no information given, NVM unchanged",
    SW.DATA_CORRUPTED: "warning: part of returned data may be corrupted",
    SW.END_OF_FILE: "warning: end of file or record reached before Ne bytes",
    SW.SELECTED_FILE_INVALIDATED: "warning: selected file deactivated",
    SW.BAD_FCI_FORMAT: "warning: FCI not formatted per ISO 7816-4",
    SW.NVM_CHANGED: "warning: NVM changed, no information given",
    SW.MORE_DATA_AVAILABLE: "more data available (repeat with P2 'next occurrence')",
    SW.EXECUTION_ERROR: "execution error, NVM unchanged",
    SW.MEMORY_FAILURE: "memory failure",
    SW.WRONG_LENGTH: "wrong length (Lc or Le)",
    SW.LOGICAL_CHANNEL_NOT_SUPPORTED: "logical channel not supported",
    SW.SECURE_MESSAGING_NOT_SUPPORTED: "secure messaging not supported",
    SW.LAST_COMMAND_OF_CHAIN_EXPECTED: "last command of the chain expected",
    SW.CHAINING_NOT_SUPPORTED: "command chaining not supported",
    SW.COMMAND_INCOMPATIBLE_WITH_FILE: "command incompatible with file structure",
    SW.SECURITY_STATUS_NOT_SATISFIED: "security status not satisfied",
    SW.AUTH_METHOD_BLOCKED: "authentication method blocked",
    SW.REFERENCE_DATA_NOT_USABLE: "referenced data not usable",
    SW.CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    SW.COMMAND_NOT_ALLOWED: "command not allowed (no current EF)",
    SW.SM_DATA_OBJECTS_MISSING: "expected secure messaging data objects missing",
    SW.SM_DATA_OBJECTS_INCORRECT: "secure messaging data objects incorrect (bad MAC)",
    SW.WRONG_DATA: "incorrect parameters in the data field",
    SW.FUNCTION_NOT_SUPPORTED: "function not supported",
    SW.FILE_NOT_FOUND: "file or application not found",
    SW.RECORD_NOT_FOUND: "record not found",
    SW.NOT_ENOUGH_MEMORY: "not enough memory space",
    SW.INCORRECT_P1P2: "incorrect parameters P1-P2",
    SW.REFERENCED_DATA_NOT_FOUND: "referenced data not found",
    SW.WRONG_P1P2: "wrong parameters P1-P2",
    SW.INS_NOT_SUPPORTED: "instruction not supported",
    SW.CLA_NOT_SUPPORTED: "class not supported",
    SW.NO_PRECISE_DIAGNOSIS: "no precise diagnosis",
    SW.PURSE_MAC_INVALID: "purse: MAC invalid",
    SW.PURSE_APPLICATION_LOCKED: "purse: application permanently locked",
    SW.PURSE_INSUFFICIENT_BALANCE: "purse: insufficient balance",
    SW.PURSE_COUNTER_EXHAUSTED: "purse: transaction counter at its maximum",
    SW.PURSE_KEY_INDEX_NOT_SUPPORTED: "purse: key index not supported",
    SW.PURSE_MAC_NOT_AVAILABLE: "purse: requested MAC/TAC not available",
}

_SECURITY = {0x6982, 0x6983, 0x6984, 0x6985, 0x6988, 0x9302, 0x9303}


@dataclass(frozen=True)
class StatusWord:
    """A status word with its meaning and category, for display and docs."""

    value: int
    meaning: str
    category: SWCategory

    @property
    def name(self) -> str:
        try:
            return SW(self.value).name
        except ValueError:
            return f"SW_{self.value:04X}"

    def __str__(self) -> str:
        return f"{self.value:04X} ({self.meaning})"


def category(sw: int) -> SWCategory:
    """Class of a status word by ISO/IEC 7816-4's SW1 ranges."""
    sw1 = sw >> 8
    if sw == 0x9000 or sw1 == 0x61:
        return SWCategory.NORMAL
    if sw in _SECURITY:
        return SWCategory.SECURITY
    if sw1 in (0x62, 0x63):
        return SWCategory.WARNING
    if 0x64 <= sw1 <= 0x66:
        return SWCategory.EXECUTION
    if 0x67 <= sw1 <= 0x6F:
        return SWCategory.CHECKING
    return SWCategory.PROPRIETARY


def describe(sw: int) -> str:
    """Meaning of any status word, including the parametrised ones (61xx, 6Cxx, 63Cx)."""
    if sw in _MEANINGS:
        return _MEANINGS[sw]
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x61:
        return f"{sw2 or 256} more response bytes available (GET RESPONSE)"
    if sw1 == 0x6C:
        return f"wrong Le: exactly {sw2 or 256} bytes available"
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return f"verification failed, {sw2 & 0x0F} tries left"
    generic = {
        0x62: "warning, NVM unchanged",
        0x63: "warning, NVM changed",
        0x64: "execution error, NVM unchanged",
        0x65: "execution error, NVM changed",
        0x66: "security-related execution error",
        0x67: "wrong length",
        0x68: "function in CLA not supported",
        0x69: "command not allowed",
        0x6A: "wrong parameters",
    }
    return generic.get(sw1, "unknown status word")


def status_word(sw: int) -> StatusWord:
    return StatusWord(sw, describe(sw), category(sw))


def is_success(sw: int) -> bool:
    """9000, or 61xx (success with more data)."""
    return sw == 0x9000 or sw >> 8 == 0x61


def tries_left(sw: int) -> int | None:
    """Tries remaining from a ``63Cx`` status word, else ``None``."""
    if sw >> 4 == 0x63C:
        return sw & 0x0F
    return None


class SWError(RemoteError):
    """Raised by card-side code; the runtime turns it into the status word (the card's answer)."""

    def __init__(self, sw: int, detail: str = "") -> None:
        if not 0 <= sw <= 0xFFFF:
            raise ValueError(f"status word out of range: {sw:#x}")
        self.sw = sw
        self.detail = detail
        super().__init__(f"{sw:04X} {describe(sw)}" + (f": {detail}" if detail else ""))


class CardError(RemoteError):
    """Host side: a card answered a command with an unexpected status word."""

    def __init__(self, sw: int, command: str = "", data: bytes = b"") -> None:
        self.sw = sw
        self.command = command
        self.data = data
        self.meaning = describe(sw)
        self.category = category(sw)
        prefix = f"{command}: " if command else ""
        super().__init__(f"{prefix}card answered {sw:04X} ({self.meaning})")


def check(sw: int, *, command: str = "", expect: Iterable[int] = (0x9000,), data: bytes = b"") -> int:
    """Return ``sw`` if it is expected, else raise :class:`CardError`."""
    if sw in tuple(expect):
        return sw
    raise CardError(sw, command, data)
