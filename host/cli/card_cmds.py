"""`dualcard card info`: what one chip of a card says about itself."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from apdu_specs.commands.gp_extra import app_state_name, card_state_name
from apdu_specs.hexutil import to_hex
from apdu_specs.sw import CardError

from ..card_summary import PaymentAppSummary, PointsSummary, payment_summary, points_summary
from ..gp.info import CardInfo, read_card_info
from .card_io import emit
from .errors import cli_errors
from .exit_codes import HELP as EXIT_HELP
from .gp_cmds import channel_options, gp_options, open_gp, resolver_from

__all__ = ["card"]


@click.group("card", epilog=EXIT_HELP)
def card() -> None:
    """Inspect a card."""


@card.command("info")
@click.option("--no-auth", is_flag=True,
              help="public data only (no secure channel: no life cycle, no applications)")
@gp_options
@cli_errors
def info(no_auth: bool, **params: Any) -> None:
    """Both chips (or --chip N): life cycle, CPLC, identity, key sets (KCVs only),
    applications, the holder data of chip 1 (PAN masked), the purses and logs of chip 2."""
    keys = None if no_auth else resolver_from(params.get("key_file")).parse(params["key_spec"])
    source = click.get_current_context().get_parameter_source("chip")
    chips = (params["chip"],) if source is ParameterSource.COMMANDLINE else (1, 2)
    report: dict[str, Any] = {}
    human: list[str] = []
    for chip in chips:
        with open_gp({**params, "chip": chip}, authenticate=False) as client:
            result = read_card_info(client, keys=keys, options=channel_options(params))
            try:
                payment, points = payment_summary(client.transport), points_summary(client.transport)
            except CardError:  # e.g. a terminated card answers nothing but GET DATA
                payment, points = [], None
        entry = result.to_json()
        entry["payment_applications"] = [p.to_json() for p in payment]
        entry["purses"] = points.to_json() if points is not None else None
        report[f"chip{chip}"] = entry
        human += [f"== chip {chip}", _human(result), *_human_payment(payment),
                  *_human_points(points)]
    emit(report if len(chips) > 1 else report[f"chip{chips[0]}"], params["as_json"],
         "\n".join(human))


def _human_payment(apps: list[PaymentAppSummary]) -> list[str]:
    lines = []
    for a in apps:
        lines.append(f"PAYMENT     {a.label or to_hex(a.aid)}  {a.masked_pan}  {a.holder}  "
                     f"expires {a.expiry[:2]}/{a.expiry[2:4]}"
                     + ("  BLOCKED" if a.blocked else ""))
        lines.append(f"            ATC {a.atc}  PIN tries {a.pin_tries}"
                     + (f"  offline limit {a.offline_limit / 100:,.2f}"
                        if a.offline_limit is not None else "")
                     + (f"  credit limit {a.credit_limit / 100:,.2f}"
                        if a.credit_limit is not None else ""))
    return lines


def _human_points(points: PointsSummary | None) -> list[str]:
    if points is None:
        return []
    lines = ["PURSES      " + "  ".join(f"{p.label} {b}" for p, b in points.balances.items())]
    for purse, entries in points.logs.items():
        for e in entries:
            lines.append(f"  {purse.label:<12} {e['when']}  {e['type']:<8} {e['amount']:>8}  "
                         f"balance {e['balance_after']:>8}  seq {e['card_seq']}  TAC {e['tac']}")
    return lines


def _human(info: CardInfo) -> str:
    lines = [f"ATR         {to_hex(info.atr)}", f"ISD         {to_hex(info.isd_aid)}"]
    state = "unknown (needs keys)" if info.card_state is None else card_state_name(info.card_state)
    lines.append(f"life cycle  {state}")
    if info.recognition is not None:
        rec = info.recognition
        scp = "" if rec.scp is None else f", SCP{rec.scp:02X} i={rec.i_parameter or 0:02X}"
        lines.append(f"GP          {rec.gp_version or '?'}{scp}")
    if info.cplc is not None:
        c = info.cplc
        lines.append(f"CPLC        fabricator {to_hex(c['ic_fabricator'])}"
                     f" type {to_hex(c['ic_type'])} serial {to_hex(c['ic_serial_number'])}"
                     f" batch {to_hex(c['ic_batch_identifier'])}")
    for tag, value in (("IIN", info.iin), ("CIN", info.cin)):
        if value is not None:
            lines.append(f"{tag:<11} {to_hex(value)}")
    for kvn in sorted({k.kvn for k in info.key_sets}):
        keys = [k for k in info.key_sets if k.kvn == kvn]
        lines.append(f"key set {kvn:02X}  " + ", ".join(
            f"id {k.key_id} type {k.key_type:02X} {k.length * 8}-bit" for k in keys))
    if info.authenticated_with:
        lines.append(f"keys used   {info.authenticated_with}")
    for e in info.applications or []:
        lines.append(f"APP         {to_hex(e.aid)} {app_state_name(e.state)}")
    for e in info.load_files or []:
        lines.append(f"PKG         {to_hex(e.aid)} ({len(e.modules)} module(s))")
    return "\n".join(lines)
