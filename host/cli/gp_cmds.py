"""`dualcard gp …`: GlobalPlatform management of one chip's issuer security domain.

Each command opens the chip (``--reader``, ``--chip``), selects the ISD, opens a secure
channel with ``--key`` and does one thing through :class:`host.gp.GPClient`. Keys come
from a key spec (``default``, ``env:NAME``, ``file:PATH#ENTRY``, ``prompt``, optionally
prefixed ``emv:``/``visa2:``/``kdf3:``) — never as hex on the command line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from apdu_specs.commands.gp_extra import (
    DEFAULT_ISD_AID,
    RegistryEntry,
    app_state_name,
    card_state_name,
)
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.hexutil import to_hex

from ..connect import ENV_READER, open_card
from ..gp import (
    AuthenticationError,
    CardStates,
    ChannelOptions,
    GPClient,
    GPError,
    KCVMismatchError,
    KeyResolver,
    KeySpecError,
    Subset,
)
from .card_io import emit
from .errors import CLIError, cli_errors, register_error
from .exit_codes import HELP as EXIT_HELP
from .exit_codes import ExitCode
from .options import HEX, chip_option, json_option, reader_option, trace_option
from .prompts import hidden_prompt, notice

__all__ = ["gp", "gp_options", "open_gp", "resolver_from"]

register_error(AuthenticationError, ExitCode.AUTHENTICATION)
register_error(KCVMismatchError, ExitCode.VERIFY_MISMATCH)
register_error(KeySpecError, ExitCode.USAGE)
register_error(GPError, ExitCode.FAILURE)

LEVELS = {"none": 0x00, "mac": 0x01, "mac+enc": 0x03, "mac+rmac": 0x11, "mac+enc+rmac": 0x13,
          "all": 0x33}
_LEVEL_NAMES = {v: k for k, v in LEVELS.items()}


class ByteParam(click.ParamType):
    """One byte in hex (``FF``, ``0x30``), as GP tools print key versions and states."""

    name = "byte"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().removeprefix("0x")
        try:
            number = int(text, 16)
        except ValueError:
            self.fail(f"{value!r} is not a hex byte", param, ctx)
        if not 0 <= number <= 0xFF:
            self.fail(f"{value!r} does not fit one byte", param, ctx)
        return number


class LevelParam(click.ParamType):
    name = "level"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in LEVELS:
            return LEVELS[text]
        number = ByteParam().convert(text, param, ctx)
        if number not in _LEVEL_NAMES:
            self.fail(f"{value!r}: use {', '.join(LEVELS)} (or 00 01 03 11 13 33)", param, ctx)
        return number


BYTE = ByteParam()


def gp_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--reader --chip --trace --json and the secure-channel options."""
    options: list[Callable[[Any], Any]] = [
        click.option("--key", "key_spec", envvar="DUALCARD_GP_KEY", default="default",
                     show_default=True, metavar="SPEC",
                     help="ISD keys: default | env:NAME | file:PATH#ENTRY | prompt | NAME, "
                          "optionally emv:/visa2:/kdf3: [env DUALCARD_GP_KEY]"),
        click.option("--key-file", envvar="DUALCARD_KEY_FILE", metavar="PATH",
                     type=click.Path(dir_okay=False),
                     help="TOML key file for bare key names [env DUALCARD_KEY_FILE]"),
        click.option("--kvn", type=BYTE, default="00", show_default=True,
                     help="key version to authenticate with (00: the first)"),
        click.option("--level", type=LevelParam(), default="mac", show_default=True,
                     help="security level: "
                          + ", ".join(f"{k} ({v:02X})" for k, v in LEVELS.items())),
        click.option("--suite", type=click.Choice(["auto", "aes", "sm4"]), default="auto",
                     show_default=True, help="SCP03 algorithm (auto: AES; SCP02 is always 3DES)"),
        click.option("--isd", "isd_aid", type=HEX, default=DEFAULT_ISD_AID.hex().upper(),
                     show_default=True, help="AID of the issuer security domain"),
        json_option, trace_option, chip_option, reader_option,
    ]
    for option in options:
        fn = option(fn)
    return fn


def resolver_from(key_file: str | None) -> KeyResolver:
    return KeyResolver(key_file=key_file, prompt=hidden_prompt(), notice=notice)


@contextmanager
def open_gp(params: dict[str, Any], *, authenticate: bool = True,
            changes_card: bool = False) -> Iterator[GPClient]:
    """The ISD of the chosen chip, selected and (by default) with a secure channel open.

    For ``sim:IMAGE`` readers the image is written back afterwards if ``changes_card``.
    """
    reader = params.get("reader")
    if not reader:
        raise CLIError(f"no reader: give --reader (pcsc:NAME or sim:IMAGE) or set {ENV_READER}",
                       ExitCode.NO_READER)
    keys = resolver_from(params.get("key_file")).parse(params["key_spec"]) if authenticate else None
    chip = params["chip"]
    with open_card(reader, chips=(chip,), trace=sys.stderr if params.get("trace") else None,
                   trace_format=params.get("trace_format", "human"),
                   save_on_exit=changes_card) as link:
        client = GPClient(link.chip(chip), isd_aid=params["isd_aid"])
        if keys is not None:
            client.select()
            client.open_secure_channel(keys, channel_options(params))
        yield client


def channel_options(params: dict[str, Any]) -> ChannelOptions:
    algorithm = Algorithm.SM4 if params.get("suite") == "sm4" else None
    return ChannelOptions(level=params["level"], kvn=params["kvn"], algorithm=algorithm)


def _entry_json(e: RegistryEntry, *, card: bool = False) -> dict[str, Any]:
    """One registry entry; the ISD's state is the card's life cycle state."""
    state = card_state_name(e.state) if card else app_state_name(e.state)
    return {"aid": to_hex(e.aid), "state": state, "state_value": f"{e.state:02X}",
            "privileges": to_hex(e.privileges), "load_file": to_hex(e.load_file_aid),
            "modules": [to_hex(m) for m in e.modules]}


@click.group("gp", epilog=EXIT_HELP)
def gp() -> None:
    """GlobalPlatform card management of one chip's issuer security domain.

    Commands marked [!] change the card; with --reader sim:IMAGE the image is saved.
    """


@gp.command("list")
@gp_options
@cli_errors
def list_(**params: Any) -> None:
    """List the ISD, the applications and the load files with their modules."""
    with open_gp(params) as client:
        isd = client.get_status(Subset.ISD)
        apps = client.get_status(Subset.APPLICATIONS)
        files = client.get_status(Subset.LOAD_FILES_AND_MODULES)
    data = {"isd": [_entry_json(e, card=True) for e in isd], "applications": [_entry_json(e) for e in apps],
            "load_files": [_entry_json(e) for e in files]}
    lines = [f"ISD: {to_hex(e.aid)} {card_state_name(e.state)} privileges {to_hex(e.privileges)}"
             for e in isd]
    lines += [f"APP: {to_hex(e.aid)} {app_state_name(e.state)} privileges {to_hex(e.privileges)}"
              f" (load file {to_hex(e.load_file_aid)})" for e in apps]
    for e in files:
        lines.append(f"PKG: {to_hex(e.aid)} LOADED")
        lines += [f"     module {to_hex(m)}" for m in e.modules]
    emit(data, params["as_json"], "\n".join(lines))


@gp.command("install")
@click.argument("load_file", type=HEX)
@click.argument("module", type=HEX)
@click.argument("aid", type=HEX, required=False)
@click.option("--privileges", type=HEX, default="00", show_default=True, help="privilege bytes")
@click.option("--params", "app_params", type=HEX, default="", help="install parameters (C9 value)")
@click.option("--no-selectable", is_flag=True, help="leave the application INSTALLED")
@gp_options
@cli_errors
def install(load_file: bytes, module: bytes, aid: bytes | None, privileges: bytes,
            app_params: bytes, no_selectable: bool, **params: Any) -> None:
    """[!] Install an application (AID defaults to the module AID)."""
    aid = aid or module
    with open_gp(params, changes_card=True) as client:
        client.install(load_file, module, aid, privileges=privileges, params=app_params,
                       make_selectable=not no_selectable)
    state = "INSTALLED" if no_selectable else "SELECTABLE"
    emit({"installed": to_hex(aid), "state": state}, params["as_json"],
         f"installed {to_hex(aid)} ({state})")


@gp.command("delete")
@click.argument("aid", type=HEX)
@click.option("--related", is_flag=True,
              help="for a load file: delete its applications too (P2=80)")
@gp_options
@cli_errors
def delete(aid: bytes, related: bool, **params: Any) -> None:
    """[!] Delete an application, or a load file's applications with --related."""
    with open_gp(params, changes_card=True) as client:
        client.delete(aid, related=related)
    emit({"deleted": to_hex(aid)}, params["as_json"], f"deleted {to_hex(aid)}")


@gp.command("lock")
@click.argument("aid", type=HEX, required=False)
@gp_options
@cli_errors
def lock(aid: bytes | None, **params: Any) -> None:
    """[!] Lock an application, or without AID the whole card (CARD_LOCKED)."""
    _set_locked(aid, True, params)


@gp.command("unlock")
@click.argument("aid", type=HEX, required=False)
@gp_options
@cli_errors
def unlock(aid: bytes | None, **params: Any) -> None:
    """[!] Unlock an application, or without AID the card (back to SECURED)."""
    _set_locked(aid, False, params)


def _set_locked(aid: bytes | None, locked: bool, params: dict[str, Any]) -> None:
    with open_gp(params, changes_card=True) as client:
        if aid and locked:
            client.lock_application(aid)
        elif aid:
            client.unlock_application(aid)
        else:
            client.set_card_status(CardStates.CARD_LOCKED if locked else CardStates.SECURED)
    what, verb = (to_hex(aid) if aid else "card"), ("locked" if locked else "unlocked")
    emit({verb: what}, params["as_json"], f"{verb} {what}")


@gp.command("put-key")
@click.option("--new-keys", required=True, metavar="SPEC",
              help="the new key set, as a key spec (kdf3:/emv:/visa2: diversify with this "
                   "card's KDD)")
@click.option("--new-kvn", type=BYTE, required=True, help="key version of the new key set")
@click.option("--replace", "replace_kvn", type=BYTE, default="00", show_default=True,
              help="key version to replace (00: add a key set; the initial set FF is retired)")
@gp_options
@cli_errors
def put_key(new_keys: str, new_kvn: int, replace_kvn: int, **params: Any) -> None:
    """[!] Add or replace a key set; the card's KCVs are checked (exit 7 on mismatch)."""
    spec = resolver_from(params.get("key_file")).parse(new_keys)
    with open_gp(params, changes_card=True) as client:
        assert client.channel is not None
        channel = client.channel
        keys = spec.card_keys(channel.kdd, channel.key_algorithm)
        client.put_key(keys, new_kvn, replace_kvn=replace_kvn)
    kcvs = "/".join(to_hex(k) for k in keys.kcvs())
    emit({"kvn": f"{new_kvn:02X}", "kcv": [to_hex(k) for k in keys.kcvs()]}, params["as_json"],
         f"key set {new_kvn:02X} stored, KCV enc/mac/dek {kcvs}")


_CARD_STATES = {"initialized": CardStates.INITIALIZED, "secured": CardStates.SECURED,
                "locked": CardStates.CARD_LOCKED, "terminated": CardStates.TERMINATED}


@gp.command("status")
@click.argument("state", required=False, type=click.Choice(sorted(_CARD_STATES)))
@click.option("--aid", type=HEX, help="with --app-state: the application to change")
@click.option("--app-state", type=BYTE, help="application life cycle state to set (e.g. 0F)")
@click.option("--yes", is_flag=True, help="do not ask before terminating the card")
@gp_options
@cli_errors
def status(state: str | None, aid: bytes | None, app_state: int | None, yes: bool,
           **params: Any) -> None:
    """Show the card's life cycle state; [!] with STATE (or --aid/--app-state) set it.

    TERMINATED is final: the card then answers GET DATA only.
    """
    if (aid is None) != (app_state is None):
        raise CLIError("--aid and --app-state go together", ExitCode.USAGE)
    if state == "terminated" and not yes:
        click.confirm("Terminate the card? This cannot be undone", abort=True, err=True)
    changes = state is not None or aid is not None
    with open_gp(params, changes_card=changes) as client:
        if state is not None:
            client.set_card_status(_CARD_STATES[state])
        if aid is not None and app_state is not None:
            client.set_application_status(aid, app_state)
        isd = client.get_status(Subset.ISD) if state != "terminated" else []
    life = card_state_name(isd[0].state) if isd else "TERMINATED"
    emit({"life_cycle": life}, params["as_json"], f"card life cycle: {life}")
