"""Run the generated cases against the chips of a card.

Theory of operation
-------------------
1. *Discovery*: each chip is reset and the applications of the table are selected by
   AID (payment AIDs also from the PSE directory) — see :mod:`.discovery`.
2. *Per spec*: the targets are where the spec's application was found. Interindustry
   specs run on every chip for what the card OS answers (SELECT, GET RESPONSE, MANAGE
   CHANNEL); the others on the first application that implements them (a probe with
   the first example does not answer 6D00/6E00) and does not declare its own command
   with that INS. Each target's chip is reset first, and the target application is
   selected again before every case, so cases do not see each other's state.
3. *Unknown INS*: per application found, one command per class with an INS no spec uses.
4. *Life cycle* (only with a ``terminate`` hook and destruction allowed): each chip is
   terminated, then every spec that ran on it must answer 6985 — except GET DATA, the
   one command a terminated card still answers. This runs last because it is final.

A case that needs a secure channel runs inside one opened by ``secure_opener`` (keys
are the caller's business); without it, the case is skipped and says why. So are
destructive cases unless ``destructive`` is set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from apdu_specs.commands import all_specs
from apdu_specs.commands.spec import CommandSpec
from apdu_specs.errors import SpecError
from apdu_specs.sw import describe
from host.transport.base import Transport, TransportError

from . import policy
from .applications import APPLICATIONS, CARD_LEVEL_INS, INTERINDUSTRY, Application, Target
from .cases import Case, CaseKind, generate_cases, life_cycle_case, unknown_ins_cases
from .discovery import discover, select
from .results import CaseResult, Outcome, SuiteResult

__all__ = ["ConformanceSuite", "SecureOpener", "Terminator"]

#: opens a secure channel to the (selected) target; returns the protecting transport
SecureOpener = Callable[[Transport, Target], Transport]
#: puts a chip into the TERMINATED life cycle state (irreversibly, on a real card)
Terminator = Callable[[int], None]

#: where interindustry commands are tried, in this order
_INTERINDUSTRY_HOSTS = ("payment", "gp", "purse")
_NOT_IMPLEMENTED = frozenset({0x6D00, 0x6E00})


class ConformanceSuite:
    def __init__(self, transports: Mapping[int, Transport], *,
                 applications: Mapping[str, Application] = APPLICATIONS,
                 specs: Iterable[CommandSpec] | None = None,
                 secure_opener: SecureOpener | None = None,
                 destructive: bool = False,
                 terminate: Terminator | None = None) -> None:
        self.transports = dict(transports)
        self.applications = dict(applications)
        self.specs = list(all_specs() if specs is None else specs)
        self.secure_opener = secure_opener
        self.destructive = destructive
        self.terminate = terminate

    def run(self, on_result: Callable[[CaseResult], None] | None = None) -> SuiteResult:
        """Every case, in the order of the theory of operation; ``on_result`` sees each."""
        result = SuiteResult()

        def add(items: Iterable[CaseResult]) -> None:
            for item in items:
                result.results.append(item)
                if on_result is not None:
                    on_result(item)

        result.targets = discover(self.transports, self.applications)
        ran_on: dict[int, dict[str, CommandSpec]] = {}
        for spec in self.specs:
            add(self._spec_cases(spec, result.targets, ran_on))
        add(self._unknown_ins(result.targets))
        if self.terminate is not None and self.destructive:
            for chip, specs in sorted(ran_on.items()):
                add(self._life_cycle(chip, list(specs.values())))
        return result

    def _spec_cases(self, spec: CommandSpec, found: Mapping[str, list[Target]],
                    ran_on: dict[int, dict[str, CommandSpec]]) -> Iterator[CaseResult]:
        cases = generate_cases(spec)
        if not cases:
            return
        targets, reason = self._targets_for(spec, found)
        if not targets:
            yield from (CaseResult(case, Outcome.SKIP, detail=reason) for case in cases)
        for target in targets:
            ran_on.setdefault(target.chip, {})[spec.key] = spec
            self._reset(target.chip)
            yield from (self.run_case(case, target) for case in cases)

    def _unknown_ins(self, found: Mapping[str, list[Target]]) -> Iterator[CaseResult]:
        for name, targets in found.items():
            for target in targets:
                self._reset(target.chip)
                yield from (self.run_case(case, target)
                            for case in unknown_ins_cases(name, self.specs))

    # --- targets ---------------------------------------------------------------------

    def _targets_for(self, spec: CommandSpec,
                     found: Mapping[str, list[Target]]) -> tuple[list[Target], str]:
        if spec.application == INTERINDUSTRY:
            return self._interindustry_targets(spec, found)
        if spec.application not in self.applications:
            return [], (f"no AID known for application {spec.application!r} "
                        f"(give one with --aid {spec.application}=AID)")
        targets = found.get(spec.application, [])
        return targets, "" if targets else f"application {spec.application!r} not on this card"

    def _interindustry_targets(self, spec: CommandSpec,
                               found: Mapping[str, list[Target]]) -> tuple[list[Target], str]:
        if spec.ins in CARD_LEVEL_INS and not spec.cla & 0x80:
            return [Target(chip, None, INTERINDUSTRY) for chip in sorted(self.transports)], ""
        probe = next((c for c in generate_cases(spec) if c.kind is CaseKind.EXAMPLE
                      and not c.secure and (self.destructive or not c.destructive)), None)
        if probe is None:
            return [], "every example changes the card: cannot tell who implements it"
        for name in _INTERINDUSTRY_HOSTS:
            if self._declares_own(name, spec):
                continue
            for target in found.get(name, []):
                self._reset(target.chip)
                result = self.run_case(probe, target)
                if result.sw is not None and result.sw not in _NOT_IMPLEMENTED:
                    return [target], ""
        return [], "no application on this card implements it"

    def _declares_own(self, application: str, spec: CommandSpec) -> bool:
        """Does ``application`` have its own command with this INS in this class?"""
        return any(s.application == application and s.ins == spec.ins
                   and (s.cla & 0x80) == (spec.cla & 0x80) for s in (*all_specs(), *self.specs))

    # --- one case --------------------------------------------------------------------

    def run_case(self, case: Case, target: Target) -> CaseResult:
        if case.destructive and not self.destructive:
            return CaseResult(case, Outcome.SKIP, target,
                              detail="changes the card (try counters, content or keys); "
                                     "allowed with --destructive")
        if case.secure and self.secure_opener is None:
            return CaseResult(case, Outcome.SKIP, target,
                              detail="needs a secure channel: give the card's keys")
        try:
            transport = self._prepare(case, target)
            response = transport.transmit(case.command)
        except _PreconditionFailed as exc:
            return CaseResult(case, Outcome.SKIP, target, detail=str(exc))
        except (TransportError, _SelectFailed) as exc:
            return CaseResult(case, Outcome.ERROR, target, detail=str(exc))
        outcome, detail = evaluate(case, response)
        return CaseResult(case, outcome, target, response, detail)

    def _prepare(self, case: Case, target: Target) -> Transport:
        transport = self.transports[target.chip]
        if target.aid is not None:
            sw, _ = select(transport, target.aid)
            if sw != 0x9000:
                raise _SelectFailed(f"SELECT {target.aid.hex().upper()} answered {sw:04X}")
        preamble = policy.preamble_for(target.application, case.spec, case.kind)
        if preamble is not None:
            for command in policy.preamble_commands(preamble):
                answer = transport.transmit(command)
                if answer[-2:] != b"\x90\x00":
                    raise _PreconditionFailed(
                        f"cannot bring the card to the state the case needs: {preamble.title} "
                        f"answered {answer[-2:].hex().upper()}")
        if case.secure:
            assert self.secure_opener is not None
            try:
                transport = self.secure_opener(transport, target)
            except TransportError:
                raise
            except Exception as exc:  # the keys or the card's answers: the case cannot run
                raise _SelectFailed(f"cannot open a secure channel: {exc}") from None
        return transport

    def _reset(self, chip: int) -> None:
        with contextlib.suppress(TransportError):  # the next case reports the chip's state
            self.transports[chip].reset()

    def _life_cycle(self, chip: int, specs: list[CommandSpec]) -> Iterator[CaseResult]:
        cases = [c for c in (life_cycle_case(s) for s in specs) if c is not None]
        if not cases:
            return
        assert self.terminate is not None
        target = Target(chip, None, "card")
        try:
            self.terminate(chip)
        except Exception as exc:  # keys refused, or a card that cannot be terminated
            for case in cases:
                yield CaseResult(case, Outcome.ERROR, target,
                                 detail=f"cannot terminate chip {chip}: {exc}")
            return
        for case in cases:
            yield self.run_case(case, target)


class _SelectFailed(Exception):
    """The target application could not be selected before a case."""


class _PreconditionFailed(Exception):
    """The preamble a case needs was refused: the card cannot be brought to that state."""


def evaluate(case: Case, response: bytes) -> tuple[Outcome, str]:
    """Whether ``response`` answers ``case`` correctly, and a one-line reason."""
    sw = int.from_bytes(response[-2:], "big")
    said = f"{sw:04X} ({describe(sw)})"
    if not any(p.matches(sw) for p in case.expect):
        wanted = ", ".join(str(p) for p in case.expect)
        return Outcome.FAIL, f"answered {said}, expected {wanted}"
    data = response[:-2]
    if case.kind is CaseKind.EXAMPLE and sw == 0x9000 and case.spec is not None \
            and (data or case.expects_data):
        problem = _response_problem(case.spec, data)
        if problem:
            return Outcome.FAIL, f"answered 9000 but {problem}"
    return Outcome.PASS, f"answered {said}"


def _response_problem(spec: CommandSpec, data: bytes) -> str:
    if spec.response is None:
        return f"with {len(data)} data bytes, where the spec has none" if data else ""
    try:
        parsed: Any = spec.parse_response(data)
    except SpecError as exc:
        return f"the response does not parse: {exc}"
    try:
        rebuilt = spec.build_response(parsed)
    except SpecError:
        return ""
    if len(rebuilt) != len(data):
        return f"the response has {len(data) - len(rebuilt)} bytes after its layout"
    return ""
