"""``dualcard ledger …``: the alliance back office from the command line.

Every command takes ``--db URL`` (default: ``$DUALCARD_DB`` or ``./dualcard.sqlite3``; a plain
path means an SQLite file, ``postgresql+psycopg://user@host/db`` means PostgreSQL) and
``--json`` for machine-readable output. Times are ISO 8601 with a UTC offset
(``2025-03-14T10:00:00+08:00``); ``--at`` defaults to now.

Exit codes (:mod:`host.cli.exit_codes`): 0 ok · 1 refused by the back office or the
database · 2 bad arguments or input file · 8 batch rejected whole (reasons printed).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.exc import DBAPIError

from host.backoffice import (
    Agreement,
    AllianceSettings,
    Asset,
    BackOffice,
    BatchRejectedError,
    Member,
    MemberKind,
    Rounding,
    SoftwareCardVerifier,
    SystemClock,
    load_key_file,
    parse_batch,
)
from host.backoffice.addresses import DeliveryAddress, delivery_address, set_delivery_address
from host.backoffice.database import as_url, default_url, no_ledger, sqlite_file
from host.backoffice.errors import (
    BackOfficeError,
    NotFoundError,
    ValidationError,
)
from host.backoffice.members import DEFAULT_TWO_WAY, member_accounts
from host.backoffice.rates import Ratio, parse_ratio
from host.cli.errors import exit_code_for
from host.cli.exit_codes import ExitCode
from host.files import DocumentError, read_json
from host.hsm import HSMError, is_pkcs11_uri
from host.keystore import KeyStoreError

__all__ = ["ledger"]



# -- shared options and output -------------------------------------------------------------


class _IsoTime(click.ParamType):
    name = "ISO-TIME"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} needs a UTC offset (e.g. +08:00)", param, ctx)
        return parsed


class _RatioType(click.ParamType):
    name = "NUM/DEN"

    def convert(self, value: Any, param: Any, ctx: Any) -> Ratio:
        if isinstance(value, Ratio):
            return value
        try:
            return parse_ratio(str(value))
        except BackOfficeError as exc:
            self.fail(str(exc), param, ctx)


ISO_TIME = _IsoTime()
RATIO = _RatioType()
_PURSES = [a.value for a in (Asset.CONSUMPTION_POINTS, Asset.BANK_POINTS, Asset.CREDIT_POINTS)]


def _command_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--db and --json on every command; opens the back office and reports errors as one
    line and a non-zero exit code."""
    needs_schema = func.__name__ != "init_cmd"

    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @click.option("--db", "db_url", default=None, metavar="URL",
                  help="Database URL or SQLite file [env DUALCARD_DB; ./dualcard.sqlite3].")
    @functools.wraps(func)
    def wrapper(db_url: str | None, as_json: bool, **kwargs: Any) -> None:
        url = as_url(db_url) if db_url else default_url()
        file = sqlite_file(url)
        if needs_schema and file is not None and not file.exists():  # do not create it
            _fail(as_json, str(no_ledger(url)), ExitCode.FAILURE)
        try:
            office = BackOffice(url)
        except BackOfficeError as exc:
            _fail(as_json, str(exc), ExitCode.FAILURE)
        try:
            if needs_schema and not office.db.has_schema():
                raise no_ledger(office.db.url)
            func(office, _Out(as_json), **kwargs)
        except BatchRejectedError as exc:
            _fail(as_json, str(exc), ExitCode.PARTIAL_BATCH, {
                "batch_id": exc.batch_id,
                "rejections": [{"record": r.record_id, "reason": r.reason}
                               for r in exc.rejections],
            })
        except (ValidationError, DocumentError) as exc:
            _fail(as_json, str(exc), ExitCode.USAGE)
        except BackOfficeError as exc:
            _fail(as_json, str(exc), ExitCode.FAILURE)
        except (HSMError, KeyStoreError) as exc:  # --keys pkcs11:… (codes: hsm_cmds)
            _fail(as_json, str(exc), exit_code_for(exc) or ExitCode.FAILURE)
        except DBAPIError as exc:
            _fail(as_json, f"database error: {str(exc.orig).strip().splitlines()[0]}",
                  ExitCode.FAILURE)
        finally:
            office.close()

    return wrapper


def _fail(
    as_json: bool, message: str, code: ExitCode, extra: dict[str, Any] | None = None
) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": message, **(extra or {})}, ensure_ascii=False))
    click.echo(f"Error: {message}", err=True)
    sys.exit(int(code))


class _Out:
    """Prints a JSON document or human lines."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, document: Any, lines: Callable[[], list[str]]) -> None:
        if self.as_json:
            click.echo(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True))
        else:
            for line in lines():
                click.echo(line)


def _now(at: datetime | None) -> datetime:
    return at if at is not None else SystemClock().now()


def _fen(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100:,}.{abs(amount) % 100:02d}"


# -- the group -------------------------------------------------------------------------------


@click.group("ledger")
def ledger() -> None:
    """The alliance ledger: members, agreements, clearing, settlement, credit, conversion."""


@ledger.command("init")
@click.option("--point-value", type=RATIO, default="1/1", show_default=True,
              help="Fen per consumption point when merchants settle.")
@click.option("--utc-offset", type=int, default=480, show_default=True,
              help="Minutes east of UTC of the business day (480: China Standard Time).")
@click.option("--at", type=ISO_TIME, default=None, help="When (default: now).")
@_command_options
def init_cmd(office: BackOffice, out: _Out, point_value: Ratio, utc_offset: int,
             at: datetime | None) -> None:
    """[!] Create the ledger (tables, the alliance and its accounts); safe to repeat."""
    settings = AllianceSettings(point_value, utc_offset)
    status = office.init(at=_now(at), settings=settings)
    out.emit({"status": status, "db": office.db.url},
             lambda: [f"ledger {status}: {office.db.url}"])


# -- members -------------------------------------------------------------------------------


@ledger.group("member")
def member_group() -> None:
    """Consumers, merchants, banks and insurers."""


@member_group.command("add")
@click.argument("kind", type=click.Choice([k.value for k in MemberKind if k.value != "alliance"]))
@click.argument("member_id")
@click.option("--name", required=True)
@click.option("--card", "card_id", default=None, help="Consumer: the card id (chip 2).")
@click.option("--pan-token", default=None, help="Consumer: the token of the chip-1 PAN.")
@click.option("--group", "consumer_group", default=None, help="Consumer: group [standard].")
@click.option("--two-way", type=RATIO, default=None,
              help=f"Merchant: credit points per point awarded [{DEFAULT_TWO_WAY}].")
@click.option("--terminal", "terminals", multiple=True, help="Merchant: a terminal id (12 hex).")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def member_add(office: BackOffice, out: _Out, kind: str, member_id: str, name: str,
               card_id: str | None, pan_token: str | None, consumer_group: str | None,
               two_way: Ratio | None, terminals: tuple[str, ...], at: datetime | None) -> None:
    """[!] Add a member and open its accounts."""
    member_kind = MemberKind(kind)
    when = _now(at)
    if member_kind is MemberKind.CONSUMER:
        consumer_group = consumer_group or "standard"
    if member_kind is MemberKind.MERCHANT:
        two_way = two_way or DEFAULT_TWO_WAY
    member = Member(member_id, member_kind, name, when, card_id, pan_token, consumer_group,
                    two_way, tuple(t.replace(" ", "").upper() for t in terminals))
    status = office.add_member(member, at=when)
    out.emit({"status": status, "member": member.as_dict()},
             lambda: [f"{kind} {member_id} {status}"])


@member_group.command("list")
@click.option("--kind", type=click.Choice([k.value for k in MemberKind]), default=None)
@_command_options
def member_list(office: BackOffice, out: _Out, kind: str | None) -> None:
    """List members."""
    members = office.members(MemberKind(kind) if kind else None)

    def lines() -> list[str]:
        rows = []
        for m in members:
            extra = m.card_id or ", ".join(m.terminals) or ""
            rows.append(f"{m.id:<12} {m.kind.value:<9} {m.name:<24} {extra}")
        return rows

    out.emit([m.as_dict() for m in members], lines)


# -- agreements ----------------------------------------------------------------------------


@ledger.group("agreement")
def agreement_group() -> None:
    """Earn rates between an issuer and a consumer group (the points calculation unit)."""


@agreement_group.command("add")
@click.argument("agreement_id")
@click.option("--issuer", required=True, help="Merchant (consumption points) or bank.")
@click.option("--group", "consumer_group", default="standard", show_default=True)
@click.option("--asset", type=click.Choice(_PURSES), default=_PURSES[0], show_default=True)
@click.option("--points", type=int, required=True, help="Points awarded …")
@click.option("--per-fen", type=int, required=True, help="… for every this many fen spent.")
@click.option("--rounding", type=click.Choice([r.value for r in Rounding]), default="down",
              show_default=True)
@click.option("--valid-from", type=ISO_TIME, default=None, help="Default: --at.")
@click.option("--valid-to", type=ISO_TIME, default=None)
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def agreement_add(office: BackOffice, out: _Out, agreement_id: str, issuer: str,
                  consumer_group: str, asset: str, points: int, per_fen: int, rounding: str,
                  valid_from: datetime | None, valid_to: datetime | None,
                  at: datetime | None) -> None:
    """[!] Record an agreement."""
    when = _now(at)
    agreement = Agreement(agreement_id, issuer, consumer_group, Asset(asset), points, per_fen,
                          Rounding(rounding), valid_from or when, valid_to)
    status = office.add_agreement(agreement, at=when)
    out.emit({"status": status, "agreement": agreement.as_dict()},
             lambda: [f"agreement {agreement_id} {status}: {points} {asset} per {per_fen} fen "
                      f"({rounding}) between {issuer} and {consumer_group}"])


@agreement_group.command("list")
@click.option("--issuer", default=None)
@_command_options
def agreement_list(office: BackOffice, out: _Out, issuer: str | None) -> None:
    """List agreements."""
    agreements = office.agreements(issuer)
    out.emit([a.as_dict() for a in agreements], lambda: [
        f"{a.id:<10} {a.issuer_id:<10} {a.consumer_group:<10} {a.asset.value:<19} "
        f"{a.points}/{a.per_fen} fen {a.rounding.value}"
        for a in agreements
    ])


# -- clearing and settlement ---------------------------------------------------------------


@ledger.command("clear")
@click.argument("batch_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--keys", "keys_file", envvar="DUALCARD_CARD_KEYS", required=True,
              help="Issuer card key file, or the token holding the issuer's master keys "
                   "(pkcs11:token=<label>) [env DUALCARD_CARD_KEYS].")
@click.option("--card-register", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="With a token: card id -> PAN and PSN (cryptogram checks).")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def clear_cmd(office: BackOffice, out: _Out, batch_file: Path, keys_file: str,
              card_register: Path | None, at: datetime | None) -> None:
    """[!] Verify and post a terminal batch (all records or none)."""
    batch = parse_batch(read_json(batch_file))
    if is_pkcs11_uri(keys_file):
        from .hsm_cmds import token_verifier

        with token_verifier(keys_file, card_register) as verifier:
            result = BackOffice(office.db, verifier=verifier).clear(batch, at=_now(at))
    else:
        result = _with_verifier(office, Path(keys_file)).clear(batch, at=_now(at))

    def lines() -> list[str]:
        earned = ", ".join(f"{n} {k}" for k, n in sorted(result.earned.items())) or "nothing"
        return [
            f"batch {result.batch_id} {result.status}: {result.records} records from "
            f"terminal {result.terminal_id} ({result.merchant_id}), day {result.business_day}",
            f"  earned {earned}; redeemed {result.redeemed} consumption_points; "
            f"{result.merchant_credit_points} merchant credit points",
        ]

    out.emit(result.as_dict(), lines)


def _with_verifier(office: BackOffice, keys_file: Path) -> BackOffice:
    verifier = SoftwareCardVerifier(load_key_file(keys_file))
    return BackOffice(office.db, verifier=verifier)


@ledger.command("settle")
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="The business day to settle.")
@click.option("--at", type=ISO_TIME, default=None, help="When (after the day has ended).")
@_command_options
def settle_cmd(office: BackOffice, out: _Out, day: datetime, at: datetime | None) -> None:
    """[!] Net settlement of one business day among merchants; closes the day."""
    result = office.settle(date(day.year, day.month, day.day), at=_now(at))

    def lines() -> list[str]:
        rows = [f"business day {result.business_day} settlement {result.status}"]
        for p in result.positions:
            direction = "receives" if p.net_fen > 0 else "pays" if p.net_fen < 0 else "even"
            rows.append(f"  {p.merchant_id:<10} issued {p.points_issued:>8} "
                        f"redeemed {p.points_redeemed:>8}  {direction} {_fen(abs(p.net_fen))} CNY")
        return rows

    out.emit(result.as_dict(), lines)


# -- what holders see ----------------------------------------------------------------------


@ledger.command("statement")
@click.argument("account")
@click.option("--from", "start", type=ISO_TIME, default=None)
@click.option("--to", "end", type=ISO_TIME, default=None, help="Default: now.")
@_command_options
def statement_cmd(office: BackOffice, out: _Out, account: str, start: datetime | None,
                  end: datetime | None) -> None:
    """Statement of ACCOUNT (an account id such as C001:consumption_points, or a member id
    for all of its accounts)."""
    end = _now(end)
    ids = [account] if ":" in account else _member_accounts(office, account)
    statements = [office.statement(a, start=start, end=end) for a in ids]
    tz = office.settings().tz

    def lines() -> list[str]:
        rows = []
        for st in statements:
            rows.append(f"{st.account_id} ({st.asset}): opening {st.opening.posted}, "
                        f"closing {st.closing.posted}, available {st.closing.available}")
            for e in st.entries:
                held = e.pending_debit + e.pending_credit
                change = f"{e.posted:+d}" + (f" (held {held:+d})" if held else "")
                rows.append(f"  {e.at.astimezone(tz).isoformat()}  {change:>14}  {e.reason:<18} "
                            f"{e.source:<22} {e.counterparty}")
        return rows

    out.emit([s.as_dict() for s in statements], lines)


def _member_accounts(office: BackOffice, member_id: str) -> list[str]:
    kind = office.member(member_id).kind
    return [spec.id for spec in member_accounts(kind, member_id)]


@ledger.command("messages")
@click.option("--recipient", default=None)
@click.option("--limit", type=int, default=100, show_default=True)
@_command_options
def messages_cmd(office: BackOffice, out: _Out, recipient: str | None, limit: int) -> None:
    """Notices waiting in the outbox for a delivery channel."""
    messages = office.messages(limit=limit, recipient_id=recipient)
    out.emit([m.as_dict() for m in messages], lambda: [
        f"#{m.seq:<5} {m.recipient_id:<10} {m.kind.value:<16} "
        f"{json.dumps(m.body, ensure_ascii=False, sort_keys=True)}"
        for m in messages
    ])


# -- credit ----------------------------------------------------------------------------------


@ledger.group("credit")
def credit_group() -> None:
    """Credit lines raised from points (F11) and their delivery to chip 1."""


@credit_group.command("review")
@click.option("--member", "member_ids", multiple=True, help="Only these members.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def credit_review(office: BackOffice, out: _Out, member_ids: tuple[str, ...],
                  at: datetime | None) -> None:
    """[!] Apply the credit rules; raises lines and queues issuer scripts."""
    decisions = office.review_credit(at=_now(at), member_ids=list(member_ids) or None)
    out.emit([d.as_dict() for d in decisions], lambda: [
        f"{d.member_id:<10} {'RAISED' if d.raised else 'kept':<6} {d.explanation}"
        + (f" [issuer script {d.script_id}]" if d.script_id else "")
        for d in decisions
    ])


@credit_group.command("pending")
@click.argument("card_id")
@_command_options
def credit_pending(office: BackOffice, out: _Out, card_id: str) -> None:
    """Limit updates waiting for CARD_ID's next online transaction."""
    updates = office.pending_limit_updates(card_id)
    out.emit([u.as_dict() for u in updates], lambda: [
        f"{u.script_id}: new offline limit {_fen(u.new_limit)} CNY" for u in updates
    ] or [f"nothing pending for {card_id}"])


@credit_group.command("delivered")
@click.argument("script_id")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def credit_delivered(office: BackOffice, out: _Out, script_id: str, at: datetime | None) -> None:
    """[!] Record that the card confirmed an issuer script."""
    changed = office.mark_delivered(script_id, at=_now(at))
    out.emit({"script": script_id, "marked": changed},
             lambda: [f"{script_id} {'delivered' if changed else 'was already delivered'}"])


@credit_group.command("open")
@click.argument("member_id")
@click.option("--limit", type=click.IntRange(min=0), required=True,
              help="The line, in fen (the limit the card was personalised with).")
@click.option("--reason", default="card issued", show_default=True)
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def credit_open(office: BackOffice, out: _Out, member_id: str, limit: int, reason: str,
                at: datetime | None) -> None:
    """[!] Start MEMBER_ID's credit line at the limit the card was issued with (no issuer
    script: the card has it already)."""
    if office.member(member_id).kind is not MemberKind.CONSUMER:
        raise NotFoundError(f"no consumer member {member_id!r}")
    decision = office.open_credit_line(member_id, limit, at=_now(at), reason=reason)
    out.emit(decision.as_dict(), lambda: [f"{member_id}: {decision.explanation}"])


# -- delivery addresses ----------------------------------------------------------------------


@ledger.group("address")
def address_group() -> None:
    """The holder's delivery address on file (what the authentication centre checks an
    order's address against)."""


@address_group.command("set")
@click.argument("member_id")
@click.option("--street", required=True, help="The street lines, without city or postcode.")
@click.option("--postcode", required=True)
@click.option("--city", default="", help="Kept for the delivery slip (not compared).")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def address_set(office: BackOffice, out: _Out, member_id: str, street: str, postcode: str,
                city: str, at: datetime | None) -> None:
    """[!] Put MEMBER_ID's delivery address on file (replacing the one before)."""
    address = DeliveryAddress(street, postcode, city)
    set_delivery_address(office.db, member_id, address, at=_now(at))
    out.emit({"member": member_id, **dataclasses.asdict(address)},
             lambda: [f"{member_id}: delivery address {_address_line(address)}"])


@address_group.command("show")
@click.argument("member_id")
@_command_options
def address_show(office: BackOffice, out: _Out, member_id: str) -> None:
    """MEMBER_ID's delivery address on file."""
    with office.db.read() as conn:
        address = delivery_address(conn, member_id)
    if address is None:
        raise NotFoundError(f"no delivery address on file for {member_id!r}")
    out.emit({"member": member_id, **dataclasses.asdict(address)},
             lambda: [f"{member_id}: {_address_line(address)}"])


def _address_line(address: DeliveryAddress) -> str:
    return ", ".join(part for part in (address.street, f"{address.postcode} {address.city}"
                                       .strip()) if part)


# -- conversion ------------------------------------------------------------------------------


@ledger.command("convert")
@click.option("--id", "conversion_id", required=True, help="Client id (retry-safe).")
@click.option("--member", "member_id", required=True, help="The consumer.")
@click.option("--points", type=int, required=True)
@click.option("--asset", type=click.Choice(_PURSES), default=_PURSES[0], show_default=True)
@click.option("--insurer", "insurer_id", default=None, help="Pay this insurer's premium …")
@click.option("--policy", default=None, help="… under this policy. Without --insurer: money.")
@click.option("--rate", type=RATIO, default="1/1", show_default=True, help="Fen per point.")
@click.option("--fee-bp", type=int, default=0, show_default=True, help="Fee, basis points.")
@click.option("--at", type=ISO_TIME, default=None)
@_command_options
def convert_cmd(office: BackOffice, out: _Out, conversion_id: str, member_id: str, points: int,
                asset: str, insurer_id: str | None, policy: str | None, rate: Ratio,
                fee_bp: int, at: datetime | None) -> None:
    """[!] Convert points into money on the holder's bank account or into a premium."""
    result = office.convert(conversion_id, member_id, points, at=_now(at), asset=Asset(asset),
                            rate=rate, fee_bp=fee_bp, insurer_id=insurer_id, policy=policy)
    q = result.quote
    out.emit(result.as_dict(), lambda: [
        f"conversion {conversion_id} {result.status}: {q.points} {asset} "
        f"(fee {q.fee_points}) -> {_fen(q.fen)} CNY to {result.target} at {q.rate} fen/point"
    ])
