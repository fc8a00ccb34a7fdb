"""The swipe plot (host side, matplotlib): a PNG of the asked size, typed errors, and one clear
line when matplotlib is not installed."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from apdu_specs.errors import LocalError
from apdu_specs.magstripe import BadField, Swipe, Track2, track_to_waveform
from host.cli.stripe_cmds import stripe
from host.stripe_plot import PlotUnavailableError, render_waveform_png

pytestmark = pytest.mark.unit

RATE = 20_000
SAMPLES = track_to_waveform(Track2("4111111111111111", "2512", "201"), Swipe(sample_rate=RATE))


def test_png_has_the_size_asked_and_draws_the_trace() -> None:
    png = render_waveform_png(SAMPLES, RATE, width=400, height=120)
    pixels = imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (120, 400)
    assert pixels[0, 0, :3].tolist() == [1.0, 1.0, 1.0]  # white background
    trace = (31 / 255, 90 / 255, 180 / 255)
    distance = ((pixels[:, :, :3] - trace) ** 2).sum(axis=2)
    assert (distance < 0.01).sum() > 400  # the trace crosses the plot in its colour


def test_same_swipe_same_bytes_and_a_window_changes_the_plot() -> None:
    whole = render_waveform_png(SAMPLES, RATE)
    assert render_waveform_png(SAMPLES, RATE) == whole
    assert render_waveform_png(SAMPLES, RATE, start=100, stop=2000) != whole


@pytest.mark.parametrize(("samples", "options"), [
    (SAMPLES, {"start": len(SAMPLES)}),
    ([], {}),
    (SAMPLES, {"start": 50, "stop": 50}),
    (SAMPLES, {"width": 10}),
])
def test_windows_and_sizes_that_plot_nothing_are_refused(samples: list[int],
                                                         options: dict[str, int]) -> None:
    with pytest.raises(BadField):
        render_waveform_png(samples, RATE, **options)


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports of the matplotlib modules the plot needs fail, as when it is not installed."""
    for name in ("matplotlib.backends.backend_agg", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("no_matplotlib")
def test_without_matplotlib_the_error_says_what_to_install() -> None:
    with pytest.raises(PlotUnavailableError, match=r"dualcard\[plot\]") as info:
        render_waveform_png(SAMPLES, RATE)
    assert isinstance(info.value, LocalError)


@pytest.mark.usefixtures("no_matplotlib")
def test_without_matplotlib_wave_png_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(stripe, [
        "wave", "--pan", "4111111111111111", "--expiry", "2512", "--service-code", "201",
        "--out", str(tmp_path / "s.wav"), "--png", str(tmp_path / "s.png")])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: plotting needs matplotlib: pip install 'dualcard[plot]'"]
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "s.wav").exists()
