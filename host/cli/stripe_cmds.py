"""`dualcard stripe …`: build, read and synthesise magnetic stripe tracks 1 and 2.

Each command is a few lines over ``apdu_specs.magstripe``; files are read and
written here, never in the library.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from apdu_specs.magstripe import (
    BadLuhn,
    Swipe,
    Track,
    Track1,
    Track2,
    decode_track,
    parse_wedge,
    track_to_bits,
    track_to_waveform,
    waveform_to_track,
)
from apdu_specs.magstripe.wav import BadWaveFile, read_wav, wav_bytes

from ..files import DocumentError, read_bytes
from ..stripe_plot import render_waveform_png
from .card_io import emit
from .errors import CLIError, cli_errors
from .exit_codes import ExitCode
from .options import json_option

__all__ = ["stripe"]

F = TypeVar("F", bound=Callable[..., Any])


def _luhn_hint(fn: F) -> F:
    """Point operators at ``--no-luhn`` when a (test) PAN fails the Luhn check."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BadLuhn as exc:
            raise CLIError(f"{exc} (use --no-luhn for test PANs)", ExitCode.USAGE) from None

    return wrapper  # type: ignore[return-value]


def _card_data_options(fn: F) -> F:
    """The card-data fields shared by ``encode`` and ``wave``."""
    options = [
        click.option("--pan", help="primary account number, 8-19 digits"),
        click.option("--name", help="cardholder name for track 1, SURNAME/FIRST (2-26 chars)"),
        click.option("--expiry", metavar="YYMM", help="expiry date; omitted: field left empty"),
        click.option("--service-code", metavar="NNN", help="three digits, e.g. 101 or 201 (chip)"),
        click.option("--discretionary", default="", help="discretionary data, e.g. PVKI+PVV+CVV"),
        click.option("--no-luhn", is_flag=True, help="accept a PAN that fails the Luhn check"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _track_json(track: Track) -> dict[str, Any]:
    service = track.service
    return {
        "track": track.FORMAT.number,
        "data": track.encode(),
        "lrc": track.FORMAT.lrc(track.encode()),
        "pan": track.pan,
        "name": track.name if isinstance(track, Track1) else None,
        "expiry": track.expiry,
        "service_code": service.describe() if service else None,
        "discretionary": track.discretionary,
    }


def _track_text(track: Track) -> str:
    service = track.service
    lines = [f"track {track.FORMAT.number}  {track.encode()}"]
    lines.append(f"  {'PAN':<14} {track.pan}")
    if isinstance(track, Track1):
        lines.append(f"  {'name':<14} {track.name}")
    lines.append(f"  {'expiry':<14} {track.expiry or '(none)'}")
    if service is None:
        lines.append(f"  {'service code':<14} (none)")
    else:
        chip = "chip present" if service.chip_present else "no chip"
        lines.append(
            f"  {'service code':<14} {service.code}: {service.interchange.value}, {chip}; "
            f"{service.authorisation.value}; {service.services.value}, {service.pin.value}"
        )
    lines.append(f"  {'discretionary':<14} {track.discretionary or '(none)'}")
    lines.append(f"  {'LRC':<14} {track.FORMAT.lrc(track.encode())!r}")
    return "\n".join(lines)


def _card_tracks(
    pan: str | None, name: str | None, expiry: str | None, service_code: str | None,
    discretionary: str, check_luhn: bool,
) -> dict[int, Track]:
    """Track 2 from the card data, and track 1 as well when a name is given."""
    if not pan:
        raise click.UsageError("--pan is required")
    tracks: dict[int, Track] = {}
    if name is not None:
        tracks[1] = Track1(pan, name, expiry, service_code, discretionary,
                           check_luhn=check_luhn)
    tracks[2] = Track2(pan, expiry, service_code, discretionary, check_luhn=check_luhn)
    return tracks


@click.group("stripe")
def stripe() -> None:
    """Magnetic stripe (ISO/IEC 7813 tracks 1 and 2): encode, decode, waveforms."""


@stripe.command("encode")
@_card_data_options
@json_option
@cli_errors
@_luhn_hint
def encode(pan: str | None, name: str | None, expiry: str | None, service_code: str | None,
           discretionary: str, no_luhn: bool, as_json: bool) -> None:
    """Build track 2 (and track 1 when --name is given) from card data."""
    tracks = _card_tracks(pan, name, expiry, service_code, discretionary, not no_luhn)
    emit(
        {f"track{number}": _track_json(track) for number, track in sorted(tracks.items())},
        as_json,
        "\n".join(_track_text(track) for _, track in sorted(tracks.items())),
    )


@stripe.command("decode")
@click.argument("track_string", required=False)
@click.option("--wedge", metavar="STRING", help="what a keyboard-wedge reader typed")
@click.option("--wav", "wav_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a recorded (or synthesised) swipe, 16-bit PCM WAV")
@click.option("--no-luhn", is_flag=True, help="accept a PAN that fails the Luhn check")
@json_option
@cli_errors
@_luhn_hint
def decode(track_string: str | None, wedge: str | None, wav_path: Path | None, no_luhn: bool,
           as_json: bool) -> None:
    """Decode a track string (%B…? or ;…?, LRC optional), wedge output or a WAV swipe."""
    given = [x for x in (track_string, wedge, wav_path) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of TRACK_STRING, --wedge or --wav")
    if wedge is not None:
        _decode_wedge(wedge, not no_luhn, as_json)
    elif wav_path is not None:
        _decode_wav(wav_path, not no_luhn, as_json)
    else:
        track = decode_track((track_string or "").strip(), check_luhn=not no_luhn)
        emit(_track_json(track), as_json, _track_text(track))


def _decode_wedge(wedge: str, check_luhn: bool, as_json: bool) -> None:
    read = parse_wedge(wedge, check_luhn=check_luhn)
    tracks = [t for t in (read.track1, read.track2) if t is not None]
    data: dict[str, Any] = {f"track{t.FORMAT.number}": _track_json(t) for t in tracks}
    data.update(track3=read.track3, failed_tracks=list(read.failed_tracks))
    lines = [_track_text(t) for t in tracks]
    if read.track3 is not None:
        lines.append(f"track 3  {read.track3}")
    lines += [f"track {n}  unreadable (the reader reported an error)" for n in read.failed_tracks]
    emit(data, as_json, "\n".join(lines))


def _decode_wav(wav_path: Path, check_luhn: bool, as_json: bool) -> None:
    try:
        samples, rate = read_wav(read_bytes(wav_path))
    except BadWaveFile as exc:
        raise DocumentError(str(wav_path), str(exc)) from None
    track, bits = waveform_to_track(samples, check_luhn=check_luhn)
    direction = "reversed" if bits.reversed else "forward"
    data = {**_track_json(track), "direction": direction, "sample_rate": rate}
    emit(data, as_json, f"{_track_text(track)}\n  {'swipe':<14} {direction}, {rate} Hz")


def _track_from_string(text: str, number: int | None, check_luhn: bool) -> Track:
    track = decode_track(text.strip(), check_luhn=check_luhn)
    if number not in (None, track.FORMAT.number):
        raise click.UsageError(f"--track {number} but --data holds {track.FORMAT.name}")
    return track


def _parse_window(value: str | None, rate: int, length: int) -> tuple[int, int | None]:
    if not value:
        return 0, None
    try:
        start_ms, _, stop_ms = value.partition(":")
        start = round(float(start_ms or 0) * rate / 1000)
        stop = round(float(stop_ms) * rate / 1000) if stop_ms else None
    except ValueError:
        raise click.BadParameter(
            "expected START:END in ms, e.g. 0:80", param_hint="--png-window"
        ) from None
    if start < 0 or start >= length or (stop is not None and stop <= start):
        raise click.BadParameter("the window holds no samples", param_hint="--png-window")
    return start, stop


@stripe.command("wave")
@click.option("--track", "track_number", type=click.IntRange(1, 2),
              help="which track to record (default 2; with --data, taken from the string)")
@click.option("--data", "track_string", metavar="TRACK_STRING",
              help="record this track string instead of building one from card data")
@_card_data_options
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="WAV file to write (mono, 16-bit PCM)")
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path),
              help="also plot the waveform to this PNG")
@click.option("--png-window", metavar="START:END", help="plot only this span, in ms (e.g. 0:80)")
@click.option("--speed", default=10.0, show_default=True, help="swipe speed, inches per second")
@click.option("--rate", default=48_000, show_default=True, help="sample rate, Hz")
@click.option("--noise", default=0.0, show_default=True, help="noise, fraction of pulse height")
@click.option("--jitter", default=0.0, show_default=True, help="timing jitter, fraction of a bit")
@click.option("--drift", default=0.0, show_default=True,
              help="speed change along the card (0.3: 30% faster at the end)")
@click.option("--reverse", is_flag=True, help="swipe the card the other way round")
@click.option("--seed", default=0, show_default=True, help="seed for noise and jitter")
@json_option
@cli_errors
@_luhn_hint
def wave(track_number: int | None, track_string: str | None, pan: str | None, name: str | None,
         expiry: str | None, service_code: str | None, discretionary: str, no_luhn: bool,
         out: Path, png: Path | None, png_window: str | None, speed: float, rate: int,
         noise: float, jitter: float, drift: float, reverse: bool, seed: int,
         as_json: bool) -> None:
    """Synthesise the read-head signal of one swipe and write it as a WAV file."""
    if track_string is not None:
        if pan is not None:
            raise click.UsageError("give either --data or the card data options, not both")
        track = _track_from_string(track_string, track_number, not no_luhn)
    else:
        number = track_number or 2
        if number == 1 and name is None:
            raise click.UsageError("track 1 needs --name")
        track = _card_tracks(pan, name, expiry, service_code, discretionary, not no_luhn)[number]
    swipe = Swipe(speed_ips=speed, sample_rate=rate, speed_drift=drift, jitter=jitter,
                  noise=noise, reverse=reverse)
    samples = track_to_waveform(track, swipe, random.Random(seed))
    plot = None
    if png is not None:
        start, stop = _parse_window(png_window, rate, len(samples))
        plot = render_waveform_png(samples, rate, start=start, stop=stop)
    out.write_bytes(wav_bytes(samples, rate))
    if png is not None and plot is not None:
        png.write_bytes(plot)
    summary = {
        "track": track.FORMAT.number,
        "data": track.encode(),
        "bits": len(track_to_bits(track)),
        "samples": len(samples),
        "sample_rate": rate,
        "seconds": round(len(samples) / rate, 4),
        "wav": str(out),
        "png": str(png) if png else None,
    }
    human = (
        f"wrote {out}: track {summary['track']}, {summary['bits']} bits, "
        f"{len(samples)} samples at {rate} Hz ({summary['seconds']} s)"
        + (f"; plot in {png}" if png else "")
    )
    emit(summary, as_json, human)
