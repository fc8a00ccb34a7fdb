"""Passphrases as an operator meets them: a real process, no terminal, one clear line.

These run ``dualcard`` as a child process with standard input that is not a terminal (as
in CI, cron or a pipe), because that is where a hidden prompt used to fall back to a
``GetPassWarning`` and ``Aborted!``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from host.cli.exit_codes import ExitCode
from host.keystore import is_sealed

pytestmark = pytest.mark.sim

ENV = "DUALCARD_KEYS_PASSPHRASE"


def _dualcard(*args: str, env: dict[str, str] | None = None,
              stdin: str = "") -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DUALCARD_")}
    return subprocess.run([sys.executable, "-m", "host.cli.main", *args], input=stdin,
                          env={**environ, **(env or {})}, capture_output=True, text=True,
                          timeout=120, check=False)


def test_no_terminal_and_no_variable_is_exit_2_naming_what_to_give(tmp_path: Path) -> None:
    out = tmp_path / "keys.json"
    done = _dualcard("perso", "keys", "new", "--out", str(out), stdin="typed\ntyped\n")
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.splitlines() == [
        f"Error: no key file passphrase, and no terminal to ask for it: set ${ENV} or give a "
        "file"]
    assert "Warning" not in done.stderr and not out.exists()


def test_the_variable_is_announced_and_no_prompt_follows(tmp_path: Path) -> None:
    out = tmp_path / "keys.json"
    done = _dualcard("perso", "keys", "new", "--out", str(out), "--json",
                     env={ENV: "operator secret"}, stdin="something else\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"using the key file passphrase in ${ENV}"]
    assert json.loads(done.stdout)["sealed"] and is_sealed(out)
    empty = _dualcard("perso", "keys", "list", "--keys", str(out))
    assert empty.returncode == 0  # listing needs no passphrase, so none is announced
    assert empty.stderr == ""


def test_a_variable_set_but_empty_is_an_error_not_a_prompt(tmp_path: Path) -> None:
    done = _dualcard("perso", "keys", "new", "--out", str(tmp_path / "k.json"), env={ENV: " "})
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.splitlines() == [f"Error: ${ENV} is set but empty (expected the key file "
                                        "passphrase)"]


def test_plaintext_keys_only_when_asked_and_with_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "plain.json"
    done = _dualcard("perso", "keys", "new", "--out", str(out), "--plaintext")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"warning: {out} holds the master keys in plain text")
    assert not is_sealed(out)


def test_a_passphrase_file_works_without_a_terminal(tmp_path: Path) -> None:
    secret = tmp_path / "passphrase.txt"
    secret.write_text("operator secret\n")
    out = tmp_path / "keys.json"
    done = _dualcard("perso", "keys", "new", "--out", str(out), "--passphrase-file", str(secret))
    assert done.returncode == 0 and done.stderr == "" and is_sealed(out)


def test_json_errors_are_json_on_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "keys.json"
    bad.write_bytes(b"\xff\xfe{}")
    done = _dualcard("perso", "keys", "list", "--keys", str(bad), "--json")
    assert done.returncode == ExitCode.USAGE
    error = json.loads(done.stdout)["error"]
    assert error.startswith(str(bad)) and "UTF-16" in error
    assert done.stderr.splitlines() == [f"Error: {error}"]
