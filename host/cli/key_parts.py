"""Reading a key entered in 2–3 components under dual control (the key file and the token
take them the same way): values from ``--part-file``, ``$DUALCARD_KEY_PART_<n>`` or a hidden
prompt; each component's KCV and the combined KCV from options or a visible prompt."""

from __future__ import annotations

from pathlib import Path

from host.keystore import KeyComponent, SecretSource, parse_secret_hex

from .errors import CLIError
from .exit_codes import ExitCode
from .prompts import ask, hidden_prompt, notice

__all__ = ["ENV_PART", "read_components"]

ENV_PART = "DUALCARD_KEY_PART_{n}"


def read_components(name: str, parts: int, part_files: tuple[Path, ...],
                    part_kcvs: tuple[str, ...], combined_kcv: str | None
                    ) -> tuple[list[KeyComponent], bytes]:
    """The components of key ``name`` and the KCV of the combined key."""
    if part_files and len(part_files) != parts:
        raise CLIError(f"--part-file given {len(part_files)} times for {parts} components",
                       ExitCode.USAGE)
    components = []
    for n in range(1, parts + 1):
        source = SecretSource(f"component {n} of {name} (hex)", ENV_PART.format(n=n),
                              part_files[n - 1] if part_files else None, hidden_prompt(), notice)
        value = parse_secret_hex(source.read(), f"component {n}")
        kcv_text = part_kcvs[n - 1] if len(part_kcvs) >= n else \
            ask(f"KCV of component {n}", "--part-kcv")
        components.append(KeyComponent(value, parse_secret_hex(kcv_text, f"KCV of component {n}")))
    combined = combined_kcv or ask(f"KCV of the combined key {name}", "--kcv")
    return components, parse_secret_hex(combined, "combined KCV")
