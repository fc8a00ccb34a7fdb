"""Where the simulator does not answer as its command specs say (found by the suite).

Each entry is (command, case kind, case title) of a conformance case that fails on the
sample card, with the cause. The conformance tests require that nothing *else* fails;
an entry whose case passes again must be removed.
"""

from __future__ import annotations

KNOWN_DEVIATIONS: dict[tuple[str, str, str], str] = {}


def key(result: object) -> tuple[str, str, str]:
    case = result.case  # type: ignore[attr-defined]
    return (case.command_name, str(case.kind), case.title)
