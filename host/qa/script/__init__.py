"""APDU scripts: pcsc-tools ``scriptor`` files, optionally with expected answers."""

from host.qa.script.model import ChipSwitch, Command, Expectation, Reset, Script, Step
from host.qa.script.parser import parse_script, read_script
from host.qa.script.runner import ScriptResult, StepResult, run_script, run_steps

__all__ = [
    "ChipSwitch",
    "Command",
    "Expectation",
    "Reset",
    "Script",
    "ScriptResult",
    "Step",
    "StepResult",
    "parse_script",
    "read_script",
    "run_script",
    "run_steps",
]
