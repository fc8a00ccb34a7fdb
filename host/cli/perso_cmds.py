"""`dualcard perso …`: issuer keys, and personalising one card or a batch of cards.

Each command is a few lines over :mod:`host.keystore` and :mod:`host.perso`. Secrets are
never options: a sealed key file's passphrase comes from ``--passphrase-file``,
``$DUALCARD_KEYS_PASSPHRASE`` or a hidden prompt; key components from ``--part-file``,
``$DUALCARD_KEY_PART_<n>`` or a hidden prompt. What is printed names keys by reference
and KCV only.

Card numbers come from the issuer's number store (``--numbers``,
``$DUALCARD_PERSO_NUMBERS``), by default an SQLite file next to the key file: the key file
is the issuer, and every run and batch with it — from any directory, into any output
directory — draws from the same numbers.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from apdu_specs.crypto.cvv import pvv

from ..files import read_bytes
from ..gp import KCVMismatchError
from ..hsm import is_pkcs11_uri, parse_pkcs11_uri
from ..keystore import (
    MAX_COMPONENTS,
    MIN_COMPONENTS,
    KeyFile,
    KeyStoreError,
    SecretSource,
    algorithm_named,
    combine_components,
    is_sealed,
    new_key_file,
    read_key_info,
    suite_of,
)
from ..payment.keys import load_issuer_keys
from ..perso import (
    RUN_ORIGIN,
    AuditJournal,
    AuditJournalError,
    AuditRecord,
    AuthenticationError,
    BatchIdentity,
    BatchSummary,
    CardNumbers,
    CardStateError,
    HolderError,
    HolderRecord,
    NumberInUseError,
    NumberStore,
    NumberStoreError,
    PersoError,
    Personaliser,
    PINMailer,
    PinMailerError,
    ProfileError,
    ReaderTarget,
    SimImageTarget,
    VerificationMismatch,
    batch_origin,
    holder_from_json,
    load_profile,
    read_holders,
    run_batch,
)
from ..perso.audit import PENDING
from ..perso.plan import PINCheck
from ..perso.render import card_json, card_text
from ..transport.base import TransportError
from .card_io import emit
from .errors import CLIError, cli_errors, exit_code_for, register_error
from .exit_codes import HELP as EXIT_HELP
from .exit_codes import ExitCode
from .hsm_cmds import hsm as _hsm  # noqa: F401  (registers the token errors' exit codes)
from .key_parts import read_components
from .options import json_option, trace_option
from .prompts import hidden_prompt, notice

__all__ = ["perso"]

ENV_PASSPHRASE = "DUALCARD_KEYS_PASSPHRASE"
ENV_NUMBERS = "DUALCARD_PERSO_NUMBERS"

register_error(AuthenticationError, ExitCode.AUTHENTICATION)
register_error(VerificationMismatch, ExitCode.VERIFY_MISMATCH)
register_error(KCVMismatchError, ExitCode.VERIFY_MISMATCH)
for _usage in (ProfileError, HolderError, AuditJournalError, KeyStoreError, NumberInUseError,
               NumberStoreError, PinMailerError):
    register_error(_usage, ExitCode.USAGE)
register_error(CardStateError, ExitCode.FAILURE)
register_error(PersoError, ExitCode.FAILURE)

_PATH = click.Path(dir_okay=False, path_type=Path)
_EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


def _passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
    return SecretSource("key file passphrase", ENV_PASSPHRASE, passphrase_file,
                        hidden_prompt(confirm=confirm), notice).read()


def _load_keys(path: Path, passphrase_file: Path | None) -> KeyFile:
    return KeyFile.load(path, lambda: _passphrase(passphrase_file))


_passphrase_option = click.option(
    "--passphrase-file", type=_EXISTING,
    help=f"first line: the key file passphrase [else ${ENV_PASSPHRASE}, else asked]")


def _keys_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = _passphrase_option(fn)
    return click.option("--keys", "keys_path", required=True, type=_EXISTING,
                        help="issuer master key file (dualcard perso keys new)")(fn)


@click.group("perso", epilog=EXIT_HELP)
def perso() -> None:
    """Personalisation: issuer keys, one card, or a batch of cards."""


# --- keys -------------------------------------------------------------------------------------


@perso.group("keys")
def keys() -> None:
    """Issuer master keys: generate, enter in components, list KCVs."""


@keys.command("new")
@click.option("--out", "out", required=True, type=_PATH, help="key file to write (mode 0600)")
@click.option("--suite", default="AES", show_default=True, help="algorithm suite: AES, SM4, TDES")
@click.option("--encrypt/--plaintext", default=True,
              help="seal the file with a passphrase (scrypt + AES-GCM; the default), or write "
                   "the keys in plain text (tests only; warns)")
@click.option("--passphrase-file", type=_EXISTING,
              help=f"first line: the passphrase to seal with [else ${ENV_PASSPHRASE}, else asked "
                   "twice]")
@click.option("--force", is_flag=True, help="overwrite an existing file")
@json_option
@cli_errors
def keys_new(out: Path, suite: str, encrypt: bool, passphrase_file: Path | None, force: bool,
             as_json: bool) -> None:
    """[!] Generate a fresh set of issuer master keys for a suite, sealed with a passphrase."""
    if out.exists() and not force:
        raise CLIError(f"{out} exists (use --force to replace it)", ExitCode.USAGE)
    keyfile = new_key_file(suite)
    passphrase = _passphrase(passphrase_file, confirm=True) if encrypt else None
    if passphrase is None:
        notice(f"warning: {out} holds the master keys in plain text; anyone who can read it "
               "has them (use --plaintext for tests only)")
    keyfile.save(out, passphrase)
    _emit_keys(keyfile.suite, [(i.name, i.algorithm, i.length, i.kcv) for i in keyfile.info()],
               passphrase is not None, as_json, f"new key file {out}")


@keys.command("import-parts")
@_keys_options
@click.option("--name", required=True, help="key reference, e.g. emv_ac")
@click.option("--algorithm", default="AES", show_default=True, help="AES, SM4 or TDES")
@click.option("--parts", type=click.IntRange(MIN_COMPONENTS, MAX_COMPONENTS), default=2,
              show_default=True, help="number of components")
@click.option("--part-file", "part_files", multiple=True, type=_EXISTING,
              help="file holding one component (first line); repeat per component")
@click.option("--part-kcv", "part_kcvs", multiple=True,
              help="KCV of each component, in order (asked when missing)")
@click.option("--kcv", "combined_kcv", help="KCV of the combined key (asked when missing)")
@click.option("--replace", is_flag=True, help="replace a key of the same name")
@json_option
@cli_errors
def keys_import_parts(keys_path: Path, passphrase_file: Path | None, name: str, algorithm: str,
                      parts: int, part_files: tuple[Path, ...], part_kcvs: tuple[str, ...],
                      combined_kcv: str | None, replace: bool, as_json: bool) -> None:
    """[!] Enter a key as 2–3 components (each checked by its KCV), XOR them, store the key.

    Component values come from --part-file, $DUALCARD_KEY_PART_<n> or a hidden prompt.
    """
    sealed = is_sealed(keys_path)
    passphrase = _passphrase(passphrase_file) if sealed else None
    keyfile = KeyFile.load(keys_path, passphrase)
    components, combined = read_components(name, parts, part_files, part_kcvs, combined_kcv)
    key = combine_components(name, algorithm_named(algorithm), components, combined)
    keyfile.add(key, replace=replace)
    keyfile.save(keys_path, passphrase)
    emit({"name": key.name, "algorithm": key.algorithm.value, "kcv": key.kcv_hex}, as_json,
         f"{key.name} ({key.algorithm.value}-{len(key.value) * 8}) stored, KCV {key.kcv_hex}")


@keys.command("list")
@click.option("--keys", "keys_path", required=True, type=_EXISTING, help="issuer master key file")
@json_option
@cli_errors
def keys_list(keys_path: Path, as_json: bool) -> None:
    """Key references, algorithms and KCVs (no passphrase needed)."""
    suite, infos, sealed = read_key_info(keys_path)
    suite_of(suite)
    _emit_keys(suite, [(i.name, i.algorithm, i.length, i.kcv) for i in infos], sealed, as_json,
               str(keys_path))


def _emit_keys(suite: str, rows: list[tuple[str, str, int, str]], sealed: bool, as_json: bool,
               title: str) -> None:
    data = {"suite": suite, "sealed": sealed,
            "keys": [{"name": n, "algorithm": a, "bits": length * 8, "kcv": k}
                     for n, a, length, k in rows]}
    lines = [f"{title}: suite {suite}{', sealed' if sealed else ''}"]
    lines += [f"  {n:<16} {a:<5} {length * 8:>3} bits  KCV {k}" for n, a, length, k in rows]
    emit(data, as_json, "\n".join(lines))


# --- personalisation --------------------------------------------------------------------------


class _KeysParam(click.ParamType):
    """An existing key file, or a ``pkcs11:`` URI naming the token with the master keys."""

    name = "FILE|URI"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Path | str:
        if isinstance(value, str) and is_pkcs11_uri(value):
            return value
        return _EXISTING.convert(value, param, ctx)


def _perso_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option("--profile", "profile_path", required=True, type=_EXISTING,
                     help="personalisation profile (TOML)"),
        _passphrase_option,
        click.option("--keys", "keys_path", required=True, type=_KeysParam(),
                     help="issuer master key file (dualcard perso keys new), or the token "
                          "holding them: pkcs11:token=LABEL (PIN in $DUALCARD_HSM_PIN or "
                          "asked; docs/hsm.md)"),
        click.option("--numbers", "numbers_url", envvar=ENV_NUMBERS, metavar="URL|FILE",
                     help="the issuer's card number store every run and batch draws PANs and "
                          "card ids from: an SQLite file or a postgresql+psycopg:// URL shared "
                          f"by all operators [env {ENV_NUMBERS}; default: next to the key file, "
                          "KEYS.numbers.sqlite3; with a token, TOKEN.numbers.sqlite3 here]"),
        click.option("--pin-mailer", type=_PATH,
                     help="PIN mailer file (mode 0600), one current PIN per card [default: "
                          "next to the audit file, pin-mailer.csv]"),
        click.option("--dry-run", is_flag=True,
                     help="compute keys, DGIs and the APDU count; send and write nothing "
                          "(the card numbers shown are the next free ones, not reserved)"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def numbers_location(numbers_url: str | None, keys_path: Path) -> str:
    """The number store: as given, else ``KEYS.numbers.sqlite3`` beside the key file."""
    return numbers_url or str(keys_path.with_name(f"{keys_path.stem}.numbers.sqlite3"))


def token_numbers_location(numbers_url: str | None, token: str) -> str:
    """The number store of a run whose keys are in a token: as given, else
    ``TOKEN.numbers.sqlite3`` in the current directory."""
    return numbers_url or f"{token}.numbers.sqlite3"


@contextmanager
def _personaliser(profile_path: Path, keys_path: Path | str, passphrase_file: Path | None,
                  mailer: Path | None, numbers_url: str | None) -> Iterator[Personaliser]:
    profile = load_profile(profile_path)
    if not isinstance(keys_path, Path):  # a pkcs11: URI: the master keys stay in the token
        with _token_keys(keys_path, profile) as (token, keys), \
                NumberStore(token_numbers_location(numbers_url, token)) as store:
            yield Personaliser(profile, keys, mailer=PINMailer(mailer) if mailer else None,
                               numbers=store)
        return
    keyfile = _load_keys(keys_path, passphrase_file)
    with NumberStore(numbers_location(numbers_url, keys_path)) as store:
        yield Personaliser(profile, keyfile, mailer=PINMailer(mailer) if mailer else None,
                           numbers=store)


@contextmanager
def _token_keys(uri_text: str, profile: Any) -> Iterator[tuple[str, Any]]:
    """The token's card keys for ``profile`` (each master it names checked first: a missing
    one or one of the wrong type stops the run before anything is written)."""
    from ..perso.token_keys import TokenCardKeys
    from .hsm_cmds import open_token_provider

    uri = parse_pkcs11_uri(uri_text)  # a malformed one is a usage error first
    with open_token_provider(uri_text) as provider:
        yield uri.token, TokenCardKeys(provider, profile)


@perso.command("run")
@click.option("--reader", "-r", envvar="DUALCARD_READER", required=True, metavar="READER",
              help="pcsc:NAME (both slots of a dual-slot reader) | sim:IMAGE [env DUALCARD_READER]")
@_perso_options
@click.option("--input", "input_path", type=_EXISTING, help="holders CSV (with --holder-row)")
@click.option("--holder-row", type=click.IntRange(1), help="1-based row of --input to personalise")
@click.option("--holder", "holder_json", metavar="JSON",
              help='one holder as JSON, e.g. {"name": "LI/NA", "holder_id": "C-1"}')
@click.option("--replaces", metavar="CARD_ID",
              help="issue a replacement for this card of the same holder: its PAN with the "
                   "next PAN sequence number, a new card id")
@trace_option
@json_option
@cli_errors
def run(reader: str, profile_path: Path, keys_path: Path | str, passphrase_file: Path | None,
        numbers_url: str | None, pin_mailer: Path | None, dry_run: bool,
        input_path: Path | None, holder_row: int | None, holder_json: str | None,
        replaces: str | None, trace: bool, trace_format: str, as_json: bool) -> None:
    """[!] Personalise the card in READER (both chips, one pass) and read it back."""
    mailer = None if dry_run else (pin_mailer or Path("pin-mailer.csv"))
    with _personaliser(profile_path, keys_path, passphrase_file, mailer,
                       numbers_url) as personaliser:
        holder, origin = _one_holder(personaliser, input_path, holder_row, holder_json)
        numbers = _run_numbers(personaliser, holder, origin, replaces, dry_run)
        plan = personaliser.plan(holder, numbers)
        if dry_run:
            report = personaliser.estimate(plan)
        else:
            target = ReaderTarget(reader, personaliser.profile.chips,
                                  trace=sys.stderr if trace else None, trace_format=trace_format)
            with target.card(plan) as slot:
                report = personaliser.personalise(plan, slot.transports, stripe=slot.stripe,
                                                  fresh=slot.fresh)
                slot.commit()
    emit(card_json(report, dry_run=dry_run), as_json, card_text(report, dry_run=dry_run))


def _one_holder(personaliser: Personaliser, input_path: Path | None, holder_row: int | None,
                holder_json: str | None) -> tuple[HolderRecord, str]:
    """The holder of ``perso run`` and the origin of its numbers: a row of a holders file
    has its batch's numbers, a lone holder its own."""
    if (holder_json is None) == (holder_row is None):
        raise CLIError("give --holder JSON, or --input CSV with --holder-row N", ExitCode.USAGE)
    if holder_row is None:
        return holder_from_json(str(holder_json)), RUN_ORIGIN
    if input_path is None:
        raise CLIError("--holder-row needs --input", ExitCode.USAGE)
    holders = read_holders(input_path)
    if holder_row > len(holders):
        raise CLIError(f"{input_path} has {len(holders)} rows, not {holder_row}", ExitCode.USAGE)
    return holders[holder_row - 1], batch_origin(personaliser.profile, holders)


def _run_numbers(personaliser: Personaliser, holder: HolderRecord, origin: str,
                 replaces: str | None, dry_run: bool) -> CardNumbers:
    store = personaliser.numbers
    assert store is not None
    if replaces is None:
        return personaliser.number([holder], origin, preview=dry_run)[holder.index]
    if dry_run:
        return store.preview_replacement(personaliser.profile, holder, replaces)
    return store.replacement(personaliser.profile, holder, replaces)


@perso.command("issued")
@click.argument("card_id")
@click.option("--pan", required=True, help="the card's PAN")
@click.option("--holder", "holder_id", required=True, help="the holder's id at the issuer")
@click.option("--name", required=True, help="the name on the card, e.g. ZHANG/SAN")
@click.option("--profile", "profile_path", required=True, type=_EXISTING,
              help="the personalisation profile the card's numbers belong to (TOML)")
@click.option("--issuer-keys", type=_EXISTING, required=True,
              help="the issuer's payment key file (its PVK makes the PVV)")
@click.option("--pvki", default="1", show_default=True, help="PVK index (one digit)")
@click.option("--numbers", "numbers_url", envvar=ENV_NUMBERS, metavar="URL|FILE",
              help="the issuer's card number store (where the authentication centre reads "
                   f"PVVs) [env {ENV_NUMBERS}; default: next to --issuer-keys]")
@json_option
@cli_errors
def issued(card_id: str, pan: str, holder_id: str, name: str, profile_path: Path,
           issuer_keys: Path, pvki: str, numbers_url: str | None, as_json: bool) -> None:
    """[!] Put a card issued outside a perso run on the issuer's card record: its numbers
    and the PVV of its PIN (typed at the prompt; never stored), which the authentication
    centre checks online PINs against."""
    pin = click.prompt("PIN", hide_input=True, err=True)
    if not (pin.isdigit() and len(pin) == 4):
        raise CLIError("a PVV is made for a 4-digit PIN", ExitCode.USAGE)
    if not (pvki.isdigit() and len(pvki) == 1):
        raise CLIError(f"--pvki is one digit, not {pvki!r}", ExitCode.USAGE)
    check = PINCheck(pvki, pvv(load_issuer_keys(issuer_keys).pvk, pan, pvki, pin))
    location = numbers_location(numbers_url, issuer_keys)
    with NumberStore(location) as store:
        numbers = store.allocate(load_profile(profile_path),
                                 [HolderRecord(0, name, holder_id, pan=pan, card_id=card_id)],
                                 RUN_ORIGIN)[0]
        store.mark_issued(numbers.card_id, check)
    masked = pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
    emit({"card_id": numbers.card_id, "pan": masked, "psn": numbers.psn, "pvki": pvki,
          "numbers": location},
         as_json, f"card {numbers.card_id} (PAN {masked}): issued, PVV on file (PVKI {pvki})")


@perso.command("batch")
@_perso_options
@click.option("--input", "input_path", required=True, type=_EXISTING, help="holders CSV")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="write one simulated card image per holder here")
@click.option("--reader", "-r", metavar="READER",
              help="personalise physical cards in this reader (pcsc:NAME), one after another")
@click.option("--audit", "audit_path", type=_PATH,
              help="audit file, also the journal a re-run resumes from "
                   "[default: OUT-DIR/audit.jsonl, or perso-audit.jsonl]")
@click.option("--retry-failed", is_flag=True, help="on resume, try failed rows again")
@click.option("--yes", "-y", is_flag=True, help="do not wait for Enter between physical cards")
@json_option
@cli_errors
def batch(profile_path: Path, keys_path: Path | str, passphrase_file: Path | None,
          numbers_url: str | None, pin_mailer: Path | None, dry_run: bool, input_path: Path,
          out_dir: Path | None, reader: str | None, audit_path: Path | None, retry_failed: bool,
          yes: bool, as_json: bool) -> None:
    """[!] Personalise a card per holder: simulated images (--out-dir) or a reader (--reader).

    Exit 0 when every card is issued, 8 when some failed (see the audit file), 5 on an
    authentication failure (stopped at once: do not retry with the same keys), 3 or 4 when
    the reader or the card is missing (no card touched: the row stays pending).
    """
    if (out_dir is None) == (reader is None):
        raise CLIError("give exactly one of --out-dir DIR or --reader READER", ExitCode.USAGE)
    holders = read_holders(input_path)
    audit = audit_path or ((out_dir / "audit.jsonl") if out_dir else Path("perso-audit.jsonl"))
    mailer = None if dry_run else (pin_mailer or audit.parent / "pin-mailer.csv")
    with _personaliser(profile_path, keys_path, passphrase_file, mailer,
                       numbers_url) as personaliser:
        journal = None
        target: SimImageTarget | ReaderTarget | None = None
        if not dry_run:
            journal = AuditJournal(audit, BatchIdentity(personaliser.profile.fingerprint,
                                                        _sha256(input_path),
                                                        personaliser.keys.master_kcvs()))
            journal.open()
            target = (SimImageTarget(out_dir, personaliser.profile.suite.name) if out_dir
                      else ReaderTarget(str(reader), personaliser.profile.chips,
                                        before=None if yes else _ask_insert,
                                        after=None if yes else _ask_remove))
        records: list[AuditRecord] = []
        summary = _run(personaliser, holders, target, journal, audit, retry_failed, records,
                       show_bar=not as_json and sys.stderr.isatty(), images=out_dir is not None)
    _summary(summary, audit if journal else None, as_json, records if dry_run else None)
    if not summary.ok:
        raise CLIError(f"{summary.failed + summary.skipped_failed} card(s) failed; see {audit}",
                       ExitCode.PARTIAL_BATCH)


def _run(personaliser: Personaliser, holders: list[HolderRecord],
         target: SimImageTarget | ReaderTarget | None, journal: AuditJournal | None,
         audit: Path, retry_failed: bool, records: list[AuditRecord], *,
         show_bar: bool, images: bool) -> BatchSummary:
    def on_card(record: AuditRecord) -> None:
        records.append(record)
        _card_done(record, advance, show_bar)

    done = 0 if journal is None else sum(
        journal.should_skip(h.row, retry_failed=retry_failed) for h in holders)
    label = "planning" if target is None else "personalising"
    with _progress(len(holders), done, label, show_bar) as advance:
        try:
            return run_batch(personaliser, holders, target, journal, retry_failed=retry_failed,
                             on_card=on_card, blank_cards=images)
        except KeyboardInterrupt:
            raise CLIError(f"interrupted; run the same command again to resume from {audit}",
                           ExitCode.INTERRUPTED) from None
        except TransportError as exc:  # stopped before its card answered: the row is pending
            if not records or records[-1].result != PENDING:
                raise
            raise CLIError(f"{exc} (no card touched, row {records[-1].row} stays pending; run "
                           "the same command again to continue)",
                           exit_code_for(exc) or ExitCode.FAILURE) from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(read_bytes(path)).hexdigest()


def _ask_insert(plan: Any) -> None:
    card = plan.card
    click.prompt(f"insert the card for row {card.index + 1} ({card.name}) and press Enter",
                 default="", show_default=False, err=True)


def _ask_remove(plan: Any) -> None:
    click.echo(f"take out card {plan.card.card_id}", err=True)


@contextmanager
def _progress(total: int, done: int, label: str, show: bool) -> Iterator[Callable[[], None]]:
    """A bar over the whole batch: a resumed one starts at the rows done before, so it
    ends at 100 % like the run it continues."""
    if not show:
        yield lambda: None
        return
    bar = click.progressbar(length=total, label=label, file=sys.stderr)
    bar.make_step(done)  # before the first frame: no flash of 0 %
    with bar:
        yield lambda: bar.update(1)


def _card_done(record: AuditRecord, advance: Callable[[], None], bar: bool) -> None:
    advance()
    if record.result == "failed" and not bar:
        click.echo(f"row {record.row} ({record.card_id or '?'}) failed: {record.reason}", err=True)


def _summary(summary: BatchSummary, audit: Path | None, as_json: bool,
             planned: list[AuditRecord] | None) -> None:
    """The batch's outcome; for a dry run (``planned`` given), every card's plan as well."""
    dry_run = planned is not None
    data: dict[str, Any] = {**summary.to_json(), "audit": str(audit) if audit else None,
                            "dry_run": dry_run}
    lines = []
    if planned is not None:
        data["cards"] = [r.to_json() for r in planned]
        lines += [f"row {r.row}: card {r.card_id} {r.pan} — {r.apdus} APDUs, "
                  f"{len(r.kcvs)} per-card keys" for r in planned if r.result != "failed"]
    done = "planned" if dry_run else "issued"
    lines += [f"{summary.total} holders: {summary.planned if dry_run else summary.issued} {done}, "
             f"{summary.failed} failed, {summary.skipped} already done before"
             + (f" ({summary.skipped_failed} of them failed; --retry-failed tries them again)"
                if summary.skipped_failed else "")
             + (f", {summary.resumed} resumed" if summary.resumed else "")]
    lines += [f"  row {row}: {why}" for row, why in summary.failures]
    if audit is not None:
        lines.append(f"audit: {audit}")
    emit(data, as_json, "\n".join(lines))
