"""`dualcard hsm …`: the key ceremony on a PKCS#11 token, and opening one for other commands.

A token is named by an RFC 7512 URI (``pkcs11:token=<label>[;object=<key>]``); the module
comes from the URI's ``module-path``, ``$DUALCARD_PKCS11_MODULE`` or Debian's SoftHSM2. The
user PIN comes from ``$DUALCARD_HSM_PIN`` or a hidden prompt (the SO PIN of ``init`` from
``$DUALCARD_HSM_SO_PIN``). Nothing here can read a key out of a token: ``list`` and
``check`` show KCVs the token computes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from host.hsm import (
    PKCS11URI,
    HSMError,
    HSMModuleError,
    HSMUnsupportedError,
    KeyObjectMissingError,
    KeyURIError,
    TokenMissingError,
    TokenPinError,
    WrongKeyTypeError,
    parse_pkcs11_uri,
)
from host.hsm.errors import CardRegisterError
from host.hsm.verifier import ProviderCardVerifier, load_card_register
from host.keystore import (
    MAX_COMPONENTS,
    MIN_COMPONENTS,
    KeyStoreError,
    SecretSource,
    algorithm_named,
)

from .card_io import emit
from .errors import CLIError, cli_errors, register_error
from .exit_codes import HELP as EXIT_HELP
from .exit_codes import ExitCode
from .key_parts import read_components
from .options import json_option
from .prompts import hidden_prompt, notice

if TYPE_CHECKING:
    from host.hsm.token import TokenKeyProvider

__all__ = ["hsm", "open_token_provider", "token_verifier"]

ENV_PIN = "DUALCARD_HSM_PIN"
ENV_SO_PIN = "DUALCARD_HSM_SO_PIN"

for _error, _code in ((TokenPinError, ExitCode.HSM_PIN), (TokenMissingError, ExitCode.HSM_NO_TOKEN),
                      (HSMModuleError, ExitCode.HSM_NO_TOKEN),
                      (KeyObjectMissingError, ExitCode.HSM_NO_KEY),
                      (WrongKeyTypeError, ExitCode.HSM_KEY_TYPE),
                      (HSMUnsupportedError, ExitCode.HSM_KEY_TYPE),
                      (KeyURIError, ExitCode.USAGE), (CardRegisterError, ExitCode.USAGE),
                      (KeyStoreError, ExitCode.USAGE),
                      (HSMError, ExitCode.FAILURE)):
    register_error(_error, _code)

_EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


def _pin(label: str, *, confirm: bool = False) -> str:
    return SecretSource(f"user PIN of token {label}", ENV_PIN, None,
                        hidden_prompt(confirm=confirm), notice).read()


def open_token_provider(uri_text: str, *, rw: bool = False) -> TokenKeyProvider:
    """The token a ``--keys pkcs11:…`` value names, logged in (PIN from the env or asked)."""
    from host.hsm.token import TokenKeyProvider

    uri = parse_pkcs11_uri(uri_text)
    return TokenKeyProvider.open(uri, lambda: _pin(uri.token), rw=rw)


@contextmanager
def token_verifier(uri_text: str, register: Path | None) -> Iterator[ProviderCardVerifier]:
    """The back office's verifier over the token (its master keys named by the defaults,
    ``purse_tac`` and ``emv_ac``), the session closed at the end."""
    cards = load_card_register(register) if register is not None else None
    with open_token_provider(uri_text) as provider:
        verifier = ProviderCardVerifier(provider, cards)
        try:
            yield verifier
        finally:
            verifier.close()


def _object_name(uri: PKCS11URI) -> str:
    if not uri.object:
        raise KeyURIError(f"{uri}: name the key with ;object=<name>")
    return uri.object


@click.group("hsm", epilog=EXIT_HELP)
def hsm() -> None:
    """Master keys in a PKCS#11 token: initialise, import by components, list, check."""


@hsm.command("init")
@click.option("--token", "label", required=True, help="label of the new token")
@click.option("--module", default=None, help="PKCS#11 module [env DUALCARD_PKCS11_MODULE]")
@json_option
@cli_errors
def init_cmd(label: str, module: str | None, as_json: bool) -> None:
    """[!] Initialise a free SoftHSM2 slot as a token (PINs from the env or asked)."""
    from host.hsm.ceremony import init_softhsm_token
    from host.hsm.token import module_path, reload_module

    path = module_path(PKCS11URI(label, module_path=module))
    so_pin = SecretSource(f"SO PIN of token {label}", ENV_SO_PIN, None,
                          hidden_prompt(confirm=True), notice).read()
    init_softhsm_token(label, so_pin, _pin(label, confirm=True), path)
    reload_module(path)  # a module this process loaded before lists the new token too
    emit({"token": label, "module": path}, as_json, f"token {label} initialised ({path})")


@hsm.command("import")
@click.argument("uri")
@click.option("--algorithm", default="AES", show_default=True, help="AES or TDES")
@click.option("--parts", type=click.IntRange(MIN_COMPONENTS, MAX_COMPONENTS), default=2,
              show_default=True, help="number of components")
@click.option("--part-file", "part_files", multiple=True, type=_EXISTING,
              help="file holding one component (first line); repeat per component")
@click.option("--part-kcv", "part_kcvs", multiple=True,
              help="KCV of each component, in order (asked when missing)")
@click.option("--kcv", "combined_kcv", help="KCV of the combined key (asked when missing)")
@json_option
@cli_errors
def import_cmd(uri: str, algorithm: str, parts: int, part_files: tuple[Path, ...],
               part_kcvs: tuple[str, ...], combined_kcv: str | None, as_json: bool) -> None:
    """[!] Import the key URI names (;object=<name>) from 2–3 components, each checked by its
    KCV (values from --part-file, $DUALCARD_KEY_PART_<n> or a hidden prompt)."""
    from host.hsm.ceremony import import_components

    name = _object_name(parse_pkcs11_uri(uri))
    components, combined = read_components(name, parts, part_files, part_kcvs, combined_kcv)
    with open_token_provider(uri, rw=True) as provider:
        kcv = import_components(provider, name, algorithm_named(algorithm), components, combined)
    emit({"name": name, "algorithm": algorithm.upper(), "kcv": kcv}, as_json,
         f"{name} imported into the token, KCV {kcv} (computed by the token)")


@hsm.command("list")
@click.argument("uri")
@json_option
@cli_errors
def list_cmd(uri: str, as_json: bool) -> None:
    """The token's secret keys with KCVs the token computes."""
    with open_token_provider(uri) as provider:
        infos = provider.info()
    rows = [{"name": i.name, "algorithm": i.algorithm, "bits": i.length * 8, "kcv": i.kcv}
            for i in infos]
    lines = [f"token {parse_pkcs11_uri(uri).token}: {len(rows)} keys"]
    lines += [f"  {r['name']:<16} {r['algorithm']:<5} {r['bits']:>3} bits  KCV {r['kcv']}"
              for r in rows]
    emit({"keys": rows}, as_json, "\n".join(lines))


@hsm.command("check")
@click.argument("uri")
@click.option("--expect", "expected", multiple=True, metavar="NAME=KCV",
              help="a key that must be there with this KCV; repeat")
@json_option
@cli_errors
def check_cmd(uri: str, expected: tuple[str, ...], as_json: bool) -> None:
    """Every key is sensitive and not extractable, and each --expect key has its KCV
    (exit 7 when not)."""
    from host.hsm.ceremony import check_keys

    with open_token_provider(uri) as provider:
        checks = check_keys(provider)
    found = {c.name: c for c in checks}
    problems = [f"{c.name}: {'extractable' if c.extractable else 'not sensitive'}"
                for c in checks if not c.ok]
    for item in expected:
        name, _, kcv = item.partition("=")
        if name not in found:
            raise KeyObjectMissingError(f"the token holds no key {name!r}")
        if found[name].kcv != kcv.strip().upper():
            problems.append(f"{name}: KCV {found[name].kcv}, expected {kcv.upper()}")
    emit({"keys": [vars(c) for c in checks], "problems": problems}, as_json,
         "\n".join([f"  {c.name:<16} KCV {c.kcv}  {'ok' if c.ok else 'EXPORTABLE'}"
                    for c in checks] + [f"problem: {p}" for p in problems]))
    if problems:
        raise CLIError(f"{len(problems)} problem(s): {'; '.join(problems)}",
                       ExitCode.VERIFY_MISMATCH)
