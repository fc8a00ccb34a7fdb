"""Generate test cases from command specs (pure: specs in, cases out).

Each case is one command APDU and the status words that answer it correctly. The
negative cases are built so that no *other* registered spec accepts the command — a
"wrong" P1 that another command with the same INS uses (the purse's INITIALIZE FOR
LOAD and FOR PURCHASE differ only in P1) would not be wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from apdu_specs.apdu import CommandAPDU
from apdu_specs.commands import all_specs, candidates
from apdu_specs.commands.spec import CommandSpec, Example, Param
from apdu_specs.errors import ProtocolError, SpecError
from apdu_specs.hexutil import parse_hex

from ..patterns import SWPattern, declared_sw_patterns
from . import policy

__all__ = ["Case", "CaseKind", "generate_cases", "life_cycle_case", "unknown_ins_cases"]

WRONG_LENGTH = (SWPattern("6700"),)
WRONG_P1P2 = (SWPattern("6A86"), SWPattern("6B00"))
#: ISO/IEC 7816-4 §5.6: 6E00 when the class is not supported; a card that supports the
#: class for other instructions may answer 6D00 (instruction not supported in that class)
WRONG_CLA = (SWPattern("6E00"), SWPattern("6D00"))
UNKNOWN_INS = (SWPattern("6D00"),)
NO_SECURE_CHANNEL = (SWPattern("6982"),)
NO_SECURE_MESSAGING = (SWPattern("6982"), SWPattern("6987"))
TERMINATED = (SWPattern("6985"),)

#: INS values the card OS or the transmission protocol reserve (never "unknown")
_RESERVED_INS = frozenset({0xA4, 0xC0, 0x70}) | {i for i in range(256) if i >> 4 in (6, 9)}


class CaseKind(StrEnum):
    EXAMPLE = "example"
    WRONG_LENGTH = "wrong length"
    WRONG_P1P2 = "wrong P1/P2"
    WRONG_CLA = "wrong CLA"
    UNKNOWN_INS = "unknown INS"
    SECURITY = "security state"
    LIFE_CYCLE = "life cycle"


@dataclass(frozen=True)
class Case:
    kind: CaseKind
    application: str
    title: str
    command: bytes
    expect: tuple[SWPattern, ...]
    spec: CommandSpec | None = None
    #: run inside a secure channel opened on the target first
    secure: bool = False
    #: changes the card (try counters, content, keys): only when destruction is allowed
    destructive: bool = False
    #: the example shows response data, so a success must carry data of the spec's layout
    expects_data: bool = False

    @property
    def command_name(self) -> str:
        return self.spec.key if self.spec is not None else f"{self.application}:*"

    @property
    def negative(self) -> bool:
        return self.kind is not CaseKind.EXAMPLE

    def __str__(self) -> str:
        return f"{self.command_name} [{self.kind}] {self.title}"


def generate_cases(spec: CommandSpec) -> list[Case]:
    """The examples and the syntax and security negatives of one spec."""
    examples = [_parse_example(spec, e.command) for e in spec.examples]
    if not examples:
        return []
    out = [_example_case(spec, e, apdu) for e, apdu in zip(spec.examples, examples)]
    first = examples[0]
    secure = policy.secure_channel(spec)
    negatives = [*_wrong_length(spec, examples), *_wrong_params(spec, first)]
    if not secure:
        negatives += _wrong_cla(spec, first)
    out += [_with(c, secure=secure) for c in negatives]
    out += _security(spec, first)
    return out


def unknown_ins_cases(application: str, specs: Iterable[CommandSpec]) -> list[Case]:
    """One command per class the application uses, with an INS no spec knows."""
    classes = sorted({s.cla & 0x80 for s in specs if s.application == application})
    ins = _unused_ins()
    return [Case(CaseKind.UNKNOWN_INS, application, f"CLA {cla:02X} INS {ins:02X}",
                 CommandAPDU(cla, ins, 0, 0).encode(), UNKNOWN_INS) for cla in classes]


def life_cycle_case(spec: CommandSpec) -> Case | None:
    """The first example on a terminated card: 6985 for all but GET DATA (GP 2.3 §5.1.1.5)."""
    if not spec.examples or spec.ins == 0xCA:
        return None
    apdu = _parse_example(spec, spec.examples[0].command)
    return Case(CaseKind.LIFE_CYCLE, spec.application, "terminated card",
                apdu.encode(), TERMINATED, spec)


# --- per kind ----------------------------------------------------------------------------


def _example_case(spec: CommandSpec, example: Example, apdu: CommandAPDU) -> Case:
    destructive = policy.secure_channel(spec) or (policy.counts_tries(spec) and bool(apdu.data))
    shown = example.response is not None and len(parse_hex(example.response)) > 2
    return Case(CaseKind.EXAMPLE, spec.application, example.title, apdu.encode(),
                declared_sw_patterns(dict.fromkeys([0x9000, *spec.sws])), spec,
                secure=policy.secure_channel(spec), destructive=destructive, expects_data=shown)


def _wrong_length(spec: CommandSpec, examples: Sequence[CommandAPDU]) -> Iterator[Case]:
    if spec.data is None:
        apdu = examples[0].replace(data=b"\x00")
        if _only_fits(spec, apdu, expect_sw=0x6700):
            yield Case(CaseKind.WRONG_LENGTH, spec.application, "1 byte of data it takes none",
                       apdu.encode(), WRONG_LENGTH, spec)
        return
    sample = next((e for e in examples if e.data), None)
    if sample is None:
        return
    for title, data in (("data one byte short", sample.data[:-1]),
                        ("data one byte long", sample.data + b"\x00")):
        apdu = sample.replace(data=data)
        if _only_fits(spec, apdu, expect_sw=0x6700):
            yield Case(CaseKind.WRONG_LENGTH, spec.application, title, apdu.encode(),
                       WRONG_LENGTH, spec)


def _wrong_params(spec: CommandSpec, apdu: CommandAPDU) -> Iterator[Case]:
    for which, param in (("p1", spec.p1), ("p2", spec.p2)):
        if param.fixed is None and not (param.strict and param.values):
            continue
        for value in _bad_values(param):
            wrong = apdu.replace(**{which: value})
            if not any(_header_fits(other, wrong) for other in _rivals(spec)):
                yield Case(CaseKind.WRONG_P1P2, spec.application,
                           f"{which.upper()}={value:02X} ({param.name})", wrong.encode(),
                           WRONG_P1P2, spec)
                break


def _wrong_cla(spec: CommandSpec, apdu: CommandAPDU) -> Iterator[Case]:
    flipped = apdu.cla ^ 0x80
    if candidates(flipped, spec.ins):
        return  # another command lives in the other class (GET DATA 80CA / 00CA)
    yield Case(CaseKind.WRONG_CLA, spec.application, f"CLA {flipped:02X}",
               apdu.replace(cla=flipped).encode(), WRONG_CLA, spec)


def _security(spec: CommandSpec, apdu: CommandAPDU) -> Iterator[Case]:
    if policy.secure_channel(spec):
        yield Case(CaseKind.SECURITY, spec.application, "sent without a secure channel",
                   apdu.encode(), NO_SECURE_CHANNEL, spec)
    elif policy.issuer_secure_messaging(spec) and apdu.cla & 0x0C:
        plain = apdu.cla & ~0x0C & 0xFF
        yield Case(CaseKind.SECURITY, spec.application,
                   f"CLA {plain:02X}: without secure messaging", apdu.replace(cla=plain).encode(),
                   NO_SECURE_MESSAGING, spec)


# --- helpers -----------------------------------------------------------------------------


def _parse_example(spec: CommandSpec, text: str) -> CommandAPDU:
    try:
        return CommandAPDU.parse(parse_hex(text, what=f"{spec.key} example"))
    except ProtocolError as exc:  # a broken example is a spec bug: say which
        raise SpecError(f"{spec.key}: example {text!r} is not an APDU: {exc}") from None


def _with(case: Case, *, secure: bool) -> Case:
    return dataclasses.replace(case, secure=secure)


def _rivals(spec: CommandSpec) -> list[CommandSpec]:
    """Every spec a card could take this command for (same INS, same class family)."""
    return [spec, *(s for s in candidates(spec.cla, spec.ins) if s is not spec)]


def _header_fits(spec: CommandSpec, apdu: CommandAPDU) -> bool:
    try:
        spec.p1.check(apdu.p1, "P1", spec.name)
        spec.p2.check(apdu.p2, "P2", spec.name)
    except SpecError:
        return False
    return True


def _only_fits(spec: CommandSpec, apdu: CommandAPDU, *, expect_sw: int) -> bool:
    """``spec`` rejects ``apdu`` with ``expect_sw`` and no rival spec accepts it."""
    try:
        spec.parse(apdu)
    except SpecError as exc:
        if exc.sw != expect_sw:
            return False
    else:
        return False
    for other in _rivals(spec)[1:]:
        try:
            other.parse(apdu)
        except SpecError:
            continue
        return False
    return True


def _bad_values(param: Param) -> list[int]:
    if param.fixed is not None:
        first = [param.fixed ^ 0x01, param.fixed ^ 0x80, 0xFF]
        allowed = {param.fixed}
    else:
        first = [max(param.values) + 1 if max(param.values) < 0xFF else 0xFE, 0xFF]
        allowed = set(param.values)
    ordered = dict.fromkeys([*first, *range(256)])  # first choices, then every byte once
    return [v for v in ordered if v not in allowed]


def _unused_ins() -> int:
    used = {s.ins for s in all_specs()} | _RESERVED_INS
    return next(i for i in range(2, 256, 2) if i not in used)
