"""Name and decode commands and responses from the registered specs (the trace decoder's core).

Theory of operation
-------------------
A command is explained by the spec whose CLA/INS it carries; where an INS is shared
(``50`` is GlobalPlatform INITIALIZE UPDATE and the purse's INITIALIZE FOR LOAD/PURCHASE,
``20`` and ``B2`` exist in the purse and in ISO/IEC 7816-4) :func:`identify` ranks the
candidates: P1/P2 must fit the spec, then the class byte's secure-messaging bit (``04DA``
is an issuer script's PUT DATA, ``00DA`` the plain one), then the application selected
on that chip, then whether the data parses.
A :class:`Dissector` follows one chip: it names each command, decodes its fields with the
spec (P1/P2 by their names and meanings, the data layout) and the answer with the spec's
response layout and status words, and remembers which application a successful SELECT
made current. Nothing here raises on what a card or a trace holds: a command that fits
no spec, or a malformed APDU, is decoded as far as it goes and says why it stops there.

A payment application's data object lists (the PDOL in its FCI, CDOL1 and CDOL2 in its
records) are remembered, so the data of GET PROCESSING OPTIONS and GENERATE AC is shown
value by value, with the tag each value is for.

Secret values are never shown: the key blocks of PUT KEY, the values of encrypted DGIs
and PIN blocks are replaced by :class:`Concealed` (what they are and their length).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..apdu import CommandParts, split_command
from ..errors import ProtocolError, SpecError
from ..payment.aids import CREDIT_AID, DEBIT_AID, PPSE_NAME, PSE_NAME
from ..sw import describe
from ..tags import tag_name
from ..tlv import TLV, find, parse_dol, parse_tlvs, split_dol_data
from .gp_extra import DEFAULT_ISD_AID, split_dgis
from .purse_data import PURSE_AID
from .registry import candidates
from .spec import CommandSpec

__all__ = [
    "KNOWN_AIDS",
    "Concealed",
    "DecodedCommand",
    "DecodedResponse",
    "Dissector",
    "decode_command",
    "decode_response",
    "identify",
    "sw_meaning",
    "tlv_tree",
]

#: the application behind each AID dualcard's chips answer to (GP's ISD AID, and Open
#: Platform's older one; the payment directories and applications; the points purse)
KNOWN_AIDS: Mapping[bytes, str] = {
    DEFAULT_ISD_AID: "gp", bytes.fromhex("A000000003000000"): "gp",
    PSE_NAME: "payment", PPSE_NAME: "payment", DEBIT_AID: "payment", CREDIT_AID: "payment",
    PURSE_AID: "purse",
}
INTERINDUSTRY = "iso7816"
_INS_SELECT = 0xA4
_SCRIPT_MAC = 8  # EMV issuer script commands end with an 8-byte MAC (Book 2 §9.2)
#: templates whose content is worth showing as a tree when a layout leaves it raw
_TEMPLATES = frozenset({0x6F, 0x70, 0x77, 0x80, 0x61, 0xA5, 0xBF0C, 0xE3, 0x66, 0xE0, 0x9F7F})
#: the data object lists a payment application announces (EMV Book 3 §5.4): the PDOL in
#: its FCI, CDOL1 and CDOL2 in its records; GET PROCESSING OPTIONS and GENERATE AC carry
#: the values they ask for, in their order
_PDOL, _CDOL1, _CDOL2 = 0x9F38, 0x8C, 0x8D
_GPO, _GENERATE_AC = "payment:GET PROCESSING OPTIONS", "payment:GENERATE AC"
_GET_RESPONSE = "iso7816:GET RESPONSE"


@dataclass(frozen=True)
class Concealed:
    """A secret value left out of the decoded output: what it is and how long it is."""

    what: str
    length: int

    def __str__(self) -> str:
        return f"<{self.what}, {self.length} bytes>"


@dataclass(frozen=True)
class DecodedCommand:
    """A command as a spec explains it. ``fields`` holds P1/P2 by their spec names, the
    decoded ``data`` and ``ne``; ``meanings`` what the P1/P2 values stand for; ``problem``
    why decoding stopped (a malformed APDU, data that does not fit the layout)."""

    name: str
    spec: CommandSpec | None
    parts: CommandParts
    fields: dict[str, Any] = field(default_factory=dict)
    meanings: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    #: the start of a DGI this STORE DATA block leaves for the next one
    carry: bytes = b""

    @property
    def key(self) -> str | None:
        return self.spec.key if self.spec else None


@dataclass(frozen=True)
class DecodedResponse:
    """An answer: its data, decoded by the command's response layout, and its status word.

    ``meaning`` is ISO/IEC 7816-4's (or the SW table's) meaning of the status word,
    ``detail`` what the command's spec says it means for that command.
    """

    data: bytes
    sw: int | None
    meaning: str
    detail: str = ""
    fields: Any = None
    problem: str | None = None
    #: for GET RESPONSE: the command whose answer (announced by 61xx) this completes
    completes: str = ""


def identify(cla: int, ins: int, p1: int, p2: int, data: bytes | None = None,
             application: str | None = None,
             extra: Sequence[CommandSpec] = ()) -> CommandSpec | None:
    """The registered spec (or one of ``extra``) that best explains a command (None: no
    spec has its INS).

    ``data`` None means the data field is not visible (wrapped by secure messaging);
    ``application`` is what is selected, if known.
    """
    pool = candidates(cla, ins) + [s for s in extra if s.ins == ins
                                   and bool(s.cla & 0x80) == bool(cla & 0x80)]
    ranked = sorted(pool, key=lambda s: -_score(s, cla, p1, p2, data, application))
    return ranked[0] if ranked else None


def _score(spec: CommandSpec, cla: int, p1: int, p2: int, data: bytes | None,
           application: str | None) -> int:
    score = 8 if _params_fit(spec, p1, p2) else 0
    if application is not None and spec.application == application:
        score += 4
    elif application is not None and spec.application != INTERINDUSTRY:
        score -= 4
    if (cla & 0x04) == (spec.cla & 0x04):  # secure messaging: issuer script vs plain
        score += 5
    if data is not None and spec.data is not None and data:
        try:
            spec.parse_data(data)
            score += 1
        except SpecError:
            pass
    return score


def _params_fit(spec: CommandSpec, p1: int, p2: int) -> bool:
    try:
        spec.p1.check(p1, "P1", spec.name)
        spec.p2.check(p2, "P2", spec.name)
    except SpecError:
        return False
    return True


def decode_command(raw: bytes, *, application: str | None = None, wrapped: bool = False,
                   carry: bytes = b"", extra: Sequence[CommandSpec] = ()) -> DecodedCommand:
    """Name and decode ``raw``.

    ``wrapped``: the data field is protected by secure messaging the caller cannot undo,
    so only the header is decoded. ``carry``: the start of a DGI that the previous STORE
    DATA block left unfinished. ``extra``: specs known besides the registered ones (an
    applet's own commands).
    """
    parts = split_command(raw)
    if len(parts.header) < 4:
        return DecodedCommand("malformed APDU", None, parts, problem=parts.problem)
    cla, ins, p1, p2 = parts.header
    spec = identify(cla, ins, p1, p2, None if wrapped else parts.data, application, extra)
    if spec is None:
        return DecodedCommand(f"unknown INS {ins:02X}", None, parts,
                              problem=parts.problem or f"no command spec has INS {ins:02X}")
    fields, meanings = _param_fields(spec, p1, p2)
    if not parts.well_formed or wrapped:
        if parts.ne is not None:
            fields["ne"] = parts.ne
        return DecodedCommand(spec.name, spec, parts, fields, meanings, parts.problem)
    try:
        parsed = spec.parse(parts.encode())
    except (SpecError, ProtocolError) as exc:
        if parts.data:
            fields["data"] = parts.data
        return DecodedCommand(spec.name, spec, parts, fields, meanings, str(exc))
    parsed.update(fields)
    detail = _DATA_DETAIL.get(spec.key)
    if detail is None or "data" not in parsed:
        return DecodedCommand(spec.name, spec, parts, parsed, meanings)
    parsed["data"], rest = detail(parsed["data"], p1, p2, carry)
    return DecodedCommand(spec.name, spec, parts, parsed, meanings, carry=rest)


def _param_fields(spec: CommandSpec, p1: int, p2: int) -> tuple[dict[str, Any], dict[str, str]]:
    fields: dict[str, Any] = {}
    meanings: dict[str, str] = {}
    for param, value in ((spec.p1, p1), (spec.p2, p2)):
        if param.fixed is not None and value == param.fixed:
            continue
        fields[param.name] = value
        if value in param.values:
            meanings[param.name] = param.values[value]
    return fields, meanings


def decode_response(command: DecodedCommand, raw: bytes, *,
                    wrapped: bool = False) -> DecodedResponse:
    """Decode an answer to ``command`` (``raw`` = data ‖ SW1 SW2); ``wrapped``: its data
    is protected by secure messaging the caller cannot undo, so only the SW is decoded."""
    if len(raw) < 2:
        return DecodedResponse(raw, None, "no status word",
                               problem=f"a response of {len(raw)} byte(s) has no status word")
    data, sw = raw[:-2], int.from_bytes(raw[-2:], "big")
    meaning, detail = sw_meaning(sw, command.spec)
    if detail == meaning:
        detail = ""
    if not data or wrapped:
        return DecodedResponse(data, sw, meaning, detail)
    fields, problem = _response_fields(command.spec, data)
    return DecodedResponse(data, sw, meaning, detail, fields, problem)


def _response_fields(spec: CommandSpec | None, data: bytes) -> tuple[Any, str | None]:
    if spec is None or spec.response is None:
        return tlv_tree(data), None
    try:
        parsed = spec.parse_response(data)
    except SpecError as exc:
        return tlv_tree(data), str(exc)
    if isinstance(parsed, bytes):
        return tlv_tree(parsed), None
    return parsed, None


def sw_meaning(sw: int, spec: CommandSpec | None = None) -> tuple[str, str]:
    """ISO/IEC 7816-4's (or the SW table's) meaning, and what ``spec`` says for it."""
    detail = ""
    if spec is not None:
        detail = spec.sws.get(sw) or spec.sws.get(_family(sw), "")
    return describe(sw), detail


def _family(sw: int) -> int:
    """The entry a spec's SW table keeps for a parametrised status word (61xx, 6Cxx, 63Cx)."""
    if sw >> 8 in (0x61, 0x6C):
        return sw & 0xFF00
    if sw >> 4 == 0x63C:
        return 0x63C0
    return sw


def tlv_tree(data: bytes) -> Any:
    """``data`` as named BER-TLV objects when it starts with a template and parses
    completely; else the bytes as they are."""
    if not data or _first_tag(data) not in _TEMPLATES:
        return data
    try:
        objects = parse_tlvs(data)
    except ProtocolError:
        return data
    return [_tlv_entry(o) for o in objects]


def _first_tag(data: bytes) -> int:
    if data[0] & 0x1F == 0x1F and len(data) > 1:
        return (data[0] << 8) | data[1]
    return data[0]


def _tlv_entry(obj: TLV) -> dict[str, Any]:
    entry: dict[str, Any] = {"tag": f"{obj.tag:02X}", "name": tag_name(obj.tag)}
    if obj.children:
        entry["value"] = [_tlv_entry(c) for c in obj.children]
    else:
        entry["value"] = obj.value
    return entry


# --- the data of a few commands, beyond their layouts -------------------------------------

DataDetail = Callable[[Any, int, int, bytes], tuple[Any, bytes]]


def _store_data(data: Any, p1: int, p2: int, carry: bytes) -> tuple[Any, bytes]:
    """STORE DATA (EMV CPS): DGIs when P1 says so, a DGI may go on into the next block;
    the values of encrypted DGIs are concealed."""
    payload = data["payload"]
    if p1 & 0x18 != 0x08:  # not DGI-structured
        return {"payload": tlv_tree(payload)}, b""
    dgis, rest = split_dgis(carry + payload)
    encrypted = p1 & 0x60 == 0x60
    out: dict[str, Any] = {"dgis": [
        {"dgi": f"{dgi:04X}",
         "value": Concealed("encrypted under the DEK", len(value)) if encrypted
         else tlv_tree(value)} for dgi, value in dgis]}
    if rest:
        out["continued"] = f"a DGI goes on in the next block ({len(rest)} bytes here)"
    return out, rest


def _put_key(data: Any, p1: int, p2: int, carry: bytes) -> tuple[Any, bytes]:
    """PUT KEY: the key blocks (encrypted under the DEK) are concealed; the KCVs stay."""
    keys = [{"type": entry["type"],
             "key": Concealed("key encrypted under the DEK", len(entry["key"])),
             "kcv": entry["kcv"]} for entry in data["keys"]]
    return {"new_key_version": data["new_key_version"], "keys": keys}, b""


def _pin(data: Any, p1: int, p2: int, carry: bytes) -> tuple[Any, bytes]:
    return {name: Concealed("PIN", len(value)) for name, value in data.items()}, b""


def _script(data: Any, p1: int, p2: int, carry: bytes) -> tuple[Any, bytes]:
    """An issuer script command: the value (if any), then its 8-byte MAC (EMV Book 2 §9.2)."""
    payload = next(iter(data.values()))
    body, mac = payload[:-_SCRIPT_MAC], payload[-_SCRIPT_MAC:]
    if not body:
        return {"mac": mac}, b""
    if p2 == 0x02 and len(body) >= _SCRIPT_MAC:  # PIN CHANGE: the new PIN, enciphered
        return {"enciphered_pin_block": Concealed("enciphered PIN block", len(body)),
                "mac": mac}, b""
    return {"value": body, "mac": mac}, b""


_DATA_DETAIL: dict[str, DataDetail] = {
    "gp:STORE DATA": _store_data,
    "gp:PUT KEY": _put_key,
    "iso7816:VERIFY": _pin,
    "purse:VERIFY": _pin,
    "payment:APPLICATION BLOCK": _script,
    "payment:APPLICATION UNBLOCK": _script,
    "payment:PIN CHANGE/UNBLOCK": _script,
    "payment:PUT DATA (ISSUER SCRIPT)": _script,
}


class Dissector:
    """Decodes the exchanges of one chip in order, following what SELECT made current
    and the DGI a STORE DATA block leaves unfinished."""

    def __init__(self, aids: Mapping[bytes, str] = KNOWN_AIDS,
                 specs: Sequence[CommandSpec] = ()) -> None:
        self._aids = aids
        self._specs = tuple(specs)
        self.application: str | None = None
        self._carry = b""
        self._dols: dict[int, bytes] = {}
        self._cryptograms = 0  # GENERATE ACs since GET PROCESSING OPTIONS
        #: a command answered 61xx, and the data received for it so far
        self._pending: tuple[DecodedCommand, bytes] | None = None

    def command(self, raw: bytes, *, wrapped: bool = False) -> DecodedCommand:
        decoded = decode_command(raw, application=self.application, wrapped=wrapped,
                                 carry=self._carry, extra=self._specs)
        self._carry = decoded.carry
        return self._with_dol_values(decoded)

    def response(self, command: DecodedCommand, raw: bytes, *,
                 wrapped: bool = False) -> DecodedResponse:
        decoded = decode_response(command, raw, wrapped=wrapped)
        if not wrapped:
            decoded = self._completed(command, decoded)
        self._follow(command.parts, decoded.sw)
        if decoded.sw == 0x9000 and decoded.data and not wrapped:
            self._note_dols(decoded.data)
        return decoded

    def _completed(self, command: DecodedCommand, decoded: DecodedResponse) -> DecodedResponse:
        """GET RESPONSE after 61xx: the whole answer decoded with the first command's layout."""
        pending, self._pending = self._pending, None
        if command.key != _GET_RESPONSE or pending is None:
            if decoded.sw is not None and decoded.sw >> 8 == 0x61:
                self._pending = (command, decoded.data)
            return decoded
        first, received = pending
        data = received + decoded.data
        if decoded.sw is not None and decoded.sw >> 8 == 0x61:
            self._pending = (first, data)
            return replace(decoded, completes=first.name)
        fields, problem = _response_fields(first.spec, data) if decoded.sw == 0x9000 else (
            decoded.fields, decoded.problem)
        return replace(decoded, fields=fields, problem=problem, completes=first.name)

    def name(self, raw: bytes) -> str:
        """Just the command's name (what a live trace line shows)."""
        parts = split_command(raw)
        if len(parts.header) < 4:
            return "malformed APDU"
        cla, ins, p1, p2 = parts.header
        spec = identify(cla, ins, p1, p2, parts.data, self.application, self._specs)
        return spec.name if spec else f"unknown INS {ins:02X}"

    def answered(self, command: bytes, response: bytes) -> None:
        """Take note of an exchange :meth:`name` named (a SELECT changes the application)."""
        sw = int.from_bytes(response[-2:], "big") if len(response) >= 2 else None
        self._follow(split_command(command), sw)

    def _follow(self, parts: CommandParts, sw: int | None) -> None:
        if parts.header[1:3] == bytes((_INS_SELECT, 0x04)) and sw == 0x9000:
            self.application = self._aids.get(parts.data)
            self._dols.clear()

    def _note_dols(self, data: bytes) -> None:
        try:
            objects = parse_tlvs(data)
        except ProtocolError:
            return
        for tag in (_PDOL, _CDOL1, _CDOL2):
            found = find(objects, tag)
            if found is not None:
                self._dols[tag] = found.value

    def _with_dol_values(self, decoded: DecodedCommand) -> DecodedCommand:
        """GET PROCESSING OPTIONS and GENERATE AC data cut into the values their DOL asks for."""
        if decoded.key == _GPO:
            self._cryptograms = 0
            return _dol_values(decoded, "pdol_data", self._dols.get(_PDOL))
        if decoded.key == _GENERATE_AC:
            self._cryptograms += 1
            dol = self._dols.get(_CDOL1 if self._cryptograms == 1 else _CDOL2)
            return _dol_values(decoded, "cdol_data", dol)
        return decoded


def _dol_values(decoded: DecodedCommand, name: str, dol: bytes | None) -> DecodedCommand:
    data = decoded.fields.get("data")
    if dol is None or not isinstance(data, dict) or not isinstance(data.get(name), bytes):
        return decoded
    try:
        values = split_dol_data(parse_dol(dol), data[name])
    except ProtocolError:
        return decoded  # the data does not fit the DOL the card announced: shown raw
    entries = [{"tag": f"{tag:02X}", "name": tag_name(tag), "value": value}
               for tag, value in values.items()]
    return replace(decoded, fields={**decoded.fields, "data": {**data, name: entries}})
