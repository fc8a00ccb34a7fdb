"""Reversals and advices in the alliance's ISO 8583 dialect, both ways (no back office here).

A reversal (0400, repeated as 0401; answered 0410) undoes an authorisation the terminal
sent and may not have had answered. It names that authorisation by DE 90, the original
data elements: the original MTI, its STAN and its DE 7, then 22 zeros (the acquiring and
forwarding institution ids, which the alliance does not use). It repeats the original's
DE 2, 3, 4, 23, 49, 55 and 62, so the service can tell whose authorisation it names (the
ARQC, tag 9F26 of DE 55) and that the amount is the one authorised: the alliance reverses
an authorisation in full or not at all.

An advice (0220, repeated as 0221; answered 0230) tells the service what happened without
asking it anything:

- a sale the card approved offline: the fields of an 0100 (the cryptogram in DE 55 is the
  first GENERATE AC's), processing code ``002000`` or ``003000``;
- the outcome of the issuer's scripts at the card: processing code ``910000`` (private
  use), DE 63 one token per script, ``+`` and the script id for a script the card ran,
  ``-`` and the id for one it refused.

An 0110 carries the ids of the scripts in its DE 55 in DE 63, space-separated, in the order
of the scripts, so the terminal can confirm them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apdu_specs.errors import ProtocolError
from apdu_specs.tlv import parse_tlvs
from host.records.errors import ValidationError
from host.records.ids import check_id

from .errors import MessageFormatError
from .iso8583 import MTI, Message, required
from .messages import Envelope, parse_transmission_time

__all__ = [
    "SCRIPT_RESULTS",
    "OriginalRequest",
    "ScriptOutcome",
    "ScriptOutcomeRecord",
    "arqc_of",
    "original_of",
    "reversal_request",
    "script_advice",
    "script_ids_field",
    "script_ids_of",
    "script_outcomes_of",
]

#: DE 3 of an advice of script outcomes (transaction type 91: private use)
SCRIPT_RESULTS = "910000"
#: what a reversal copies from the authorisation it undoes
_COPIED = ("2", "3", "4", "23", "49", "55", "62")
_INSTITUTIONS = "0" * 22
ScriptOutcome = bool  #: True: the card ran the script


@dataclass(frozen=True)
class OriginalRequest:
    """The request a reversal names (DE 90): its MTI, STAN and DE 7."""

    mti: str
    stan: int
    sent_at: dt.datetime


@dataclass(frozen=True)
class ScriptOutcomeRecord:
    script_id: str
    ran: ScriptOutcome


def reversal_request(original: Mapping[str, Any], envelope: Envelope) -> Message:
    """The 0400 undoing ``original`` (an 0100 as it was sent)."""
    named = f"{MTI.AUTHORISATION}{original['11']}{original['7']}{_INSTITUTIONS}"
    return {"t": MTI.REVERSAL, **{k: original[k] for k in _COPIED if k in original},
            "90": named, **envelope.fields()}


def original_of(message: Message, now: dt.datetime) -> OriginalRequest:
    """The request DE 90 names; :class:`MessageFormatError` if it names none."""
    value = required(message, "90")
    if value[:4] != MTI.AUTHORISATION or value[20:] != _INSTITUTIONS or int(value[4:10]) == 0:
        raise MessageFormatError("DE 90 does not name an authorisation (0100, a STAN, DE 7 "
                                 "and 22 zeros)")
    return OriginalRequest(value[:4], int(value[4:10]),
                           parse_transmission_time(value[10:20], now))


def arqc_of(message: Message) -> bytes | None:
    """The cryptogram (tag 9F26) in DE 55, if the message carries one."""
    if "55" not in message:
        return None
    try:
        objects = parse_tlvs(bytes(message["55"]))
    except ProtocolError as exc:
        raise MessageFormatError(f"DE 55 is not BER-TLV: {exc}") from None
    found = [obj.value for obj in objects if obj.tag == 0x9F26]
    if len(found) != 1 or len(found[0]) != 8:
        raise MessageFormatError("DE 55 carries no cryptogram (one tag 9F26, 8 bytes)")
    return found[0]


# -- issuer scripts ----------------------------------------------------------------------------


def script_ids_field(script_ids: Sequence[str]) -> dict[str, str]:
    """DE 63 of an 0110 naming ``script_ids`` (nothing when there are none)."""
    return {"63": " ".join(script_ids)} if script_ids else {}


def script_ids_of(message: Message) -> tuple[str, ...]:
    """The script ids an 0110 names."""
    return tuple(_script_id(token) for token in message.get("63", "").split())


def script_advice(outcomes: Sequence[ScriptOutcomeRecord], envelope: Envelope) -> Message:
    """The 0220 reporting what the card did with each script."""
    tokens = " ".join(f"{'+' if o.ran else '-'}{o.script_id}" for o in outcomes)
    return {"t": MTI.ADVICE, "3": SCRIPT_RESULTS, "63": tokens, **envelope.fields()}


def script_outcomes_of(message: Message) -> list[ScriptOutcomeRecord]:
    """The outcomes an advice of script results carries."""
    tokens = required(message, "63").split()
    if not tokens or any(token[0] not in "+-" for token in tokens):
        raise MessageFormatError("DE 63 of a script advice is +id or -id, space-separated")
    return [ScriptOutcomeRecord(_script_id(token[1:]), token[0] == "+") for token in tokens]


def _script_id(value: str) -> str:
    try:
        return check_id(value, "script id")
    except ValidationError as exc:
        raise MessageFormatError(f"DE 63: {exc}") from None
