"""Run an APDU script against the chips of a card and compare the answers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from host.transport.base import Transport

from .model import ChipSwitch, Command, Reset, Script, Step

__all__ = ["ScriptResult", "StepResult", "run_script", "run_steps"]


@dataclass(frozen=True)
class StepResult:
    """What one step did: the answer (data ‖ SW, or the ATR after a reset) and any mismatch."""

    step: Step
    chip: int
    response: bytes = b""
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def checked(self) -> bool:
        return isinstance(self.step, Command) and self.step.expect is not None


@dataclass
class ScriptResult:
    script: Script
    steps: list[StepResult] = field(default_factory=list)

    @property
    def mismatches(self) -> list[StepResult]:
        return [s for s in self.steps if not s.ok]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def checked(self) -> int:
        return sum(1 for s in self.steps if s.checked)


def run_steps(script: Script, transports: Mapping[int, Transport], *, chip: int = 1,
              keep_going: bool = False) -> Iterator[StepResult]:
    """Yield each step's result as it happens; stop after the first mismatch unless asked.

    Transport errors (card removed, reader gone) propagate: they are not mismatches.
    """
    current = chip
    for step in script.steps:
        if isinstance(step, ChipSwitch):
            current = step.chip
            yield StepResult(step, current)
            continue
        transport = _transport(transports, current)
        if isinstance(step, Reset):
            yield StepResult(step, current, transport.reset())
            continue
        response = transport.transmit(step.apdu)
        problem = step.expect.problem(response) if step.expect is not None else ""
        yield StepResult(step, current, response, problem)
        if problem and not keep_going:
            return


def run_script(script: Script, transports: Mapping[int, Transport], *, chip: int = 1,
               keep_going: bool = False) -> ScriptResult:
    result = ScriptResult(script)
    result.steps.extend(run_steps(script, transports, chip=chip, keep_going=keep_going))
    return result


def _transport(transports: Mapping[int, Transport], chip: int) -> Transport:
    try:
        return transports[chip]
    except KeyError:
        raise ValueError(f"the script talks to chip {chip}, which is not connected") from None
