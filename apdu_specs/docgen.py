"""Generate ``docs/apdu-reference.md`` from the command registry.

Run ``python -m apdu_specs.docgen docs/apdu-reference.md`` (or ``make docs``);
a test fails when the committed file differs from what this produces.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import sw as swmod
from .commands import all_specs
from .commands.spec import CommandSpec

_APP_TITLES = {
    "iso7816": "Interindustry commands (ISO/IEC 7816-4)",
    "gp": "GlobalPlatform security domain",
    "payment": "Chip 1 — payment applications",
    "purse": "Chip 2 — points purse",
}


def _fmt(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex().upper() or "(empty)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, int):
        return f"{value:02X}" if 0 <= value <= 0xFF else str(value)
    return str(value)


def _response_doc(spec: CommandSpec) -> str:
    if spec.response_doc:
        return spec.response_doc
    return "status word only" if spec.response is None else "data"


def render_spec(spec: CommandSpec) -> str:
    lines = [f"### {spec.name}", "", spec.summary, "",
             "| | |", "|---|---|",
             f"| CLA INS | `{spec.cla:02X} {spec.ins:02X}` |",
             f"| P1 | {spec.p1.describe()} |",
             f"| P2 | {spec.p2.describe()} |",
             f"| Data | {spec.data_doc or ('none' if spec.data is None else 'see layout')} |",
             f"| Le | {'absent' if spec.ne is None else f'{spec.ne % 256:02X}'} |",
             f"| Response | {_response_doc(spec)} |",
             f"| Security | {spec.security} |",
             f"| Reference | {spec.reference} |", ""]
    if spec.sws:
        lines += ["Status words:", ""]
        lines += [f"- `{sw:04X}` {meaning}" for sw, meaning in spec.sws.items()]
        lines.append("")
    if spec.examples:
        lines += ["Examples:", ""]
        for ex in spec.examples:
            lines.append(f"- {ex.title}: `{ex.command.upper()}` → {_fmt(dict(ex.fields))}")
            if ex.response:
                lines.append(f"  - response `{ex.response.upper()}`"
                             + (f" → {_fmt(dict(ex.response_fields))}" if ex.response_fields else ""))
        lines.append("")
    return "\n".join(lines)


def render() -> str:
    groups: dict[str, list[CommandSpec]] = defaultdict(list)
    for spec in all_specs():
        groups[spec.application].append(spec)
    out = ["# APDU reference", "",
           "Generated from the command specs in `apdu_specs/commands/` by "
           "`python -m apdu_specs.docgen docs/apdu-reference.md`; do not edit by hand.", ""]
    order = [a for a in _APP_TITLES if a in groups] + sorted(set(groups) - set(_APP_TITLES))
    for app in order:
        out += [f"## {_APP_TITLES.get(app, app)}", ""]
        out += [render_spec(s) for s in groups[app]]
    out += ["## Status words", "", "| SW | Name | Category | Meaning |", "|---|---|---|---|"]
    for member in swmod.SW:
        s = swmod.status_word(member.value)
        out.append(f"| `{member.value:04X}` | {member.name} | {s.category.value} | {s.meaning} |")
    out += ["", "Parametrised: `61xx` more bytes (GET RESPONSE), `6Cxx` wrong Le (exact length "
            "xx), `63Cx` verification failed with x tries left.", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
