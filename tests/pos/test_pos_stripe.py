"""The stripe at the terminal: wedge text or a WAV swipe, the service code's rules, and the
fallback record after a chip failure."""

from __future__ import annotations

import pytest

from apdu_specs.magstripe import Track1, Track2, track_to_waveform
from apdu_specs.magstripe.wav import wav_bytes
from host.payment.stripe import encode_stripe
from host.pos import (
    EntryMode,
    FallbackNotAllowedError,
    StripeReadError,
    TxnStatus,
    check_fallback,
    read_stripe,
)
from host.testing.faults import CardFaults
from host.testing.personalise import SAMPLE

from .conftest import PIN, Rig

TRACKS = encode_stripe(SAMPLE.debit, SAMPLE.payment_keys)


def _wedge(track1: str = TRACKS.track1, track2: str = TRACKS.track2) -> str:
    return "".join(t[: t.index("?") + 1] for t in (track1, track2))


def test_wedge_text_gives_both_tracks() -> None:
    read = read_stripe(_wedge())
    assert read.source == "wedge" and read.track2.pan == SAMPLE.debit.pan
    assert read.name == "ZHANG/SAN" and read.masked_pan == "620000******0005"
    assert read.track2.service_code == "201"


def test_a_wav_swipe_is_decoded_to_track_2() -> None:
    track = Track2.decode(TRACKS.track2, check_luhn=False)
    read = read_stripe(wav_bytes(track_to_waveform(track), 48_000))
    assert read.source == "wav" and read.track2 == track and read.track1 is None


def test_unreadable_swipes_are_typed_errors() -> None:
    with pytest.raises(StripeReadError, match="track 2"):
        read_stripe("%E?;E?")
    with pytest.raises(StripeReadError):
        read_stripe("not a swipe")
    with pytest.raises(StripeReadError):
        read_stripe(b"RIFF....")
    track1 = Track1.decode(TRACKS.track1, check_luhn=False)
    with pytest.raises(StripeReadError, match="track 1"):
        read_stripe(wav_bytes(track_to_waveform(track1), 48_000))


@pytest.mark.parametrize(("service_code", "chip_error", "allowed"), [
    ("201", None, False),  # chip card, chip not tried: use the chip
    ("201", "SELECT: 6F00", True),  # chip failed: fallback
    ("101", None, True),  # a stripe-only card
    ("103", "x", False),  # ATM only
    ("104", "x", False),  # cash only
])
def test_service_code_rules(service_code: str, chip_error: str | None, allowed: bool) -> None:
    track = Track2(SAMPLE.debit.pan, "3012", service_code, "1234", check_luhn=False)
    read = read_stripe(track.encode())
    if allowed:
        check_fallback(read, chip_error)
    else:
        with pytest.raises(FallbackNotAllowedError):
            check_fallback(read, chip_error)


def test_a_chip_failure_falls_back_to_the_stripe_and_says_so(rig: Rig) -> None:
    CardFaults(rig.card).force_sw(chip=1, ins=0xA4, sw=0x6F00)
    asked: list[bool] = []

    def swipe() -> str:  # the terminal asks for a swipe only after the chip failed
        asked.append(True)
        return _wedge()

    sale = rig.terminal.purchase(88_00, pin=PIN, swipe=swipe)
    assert asked == [True] and sale.approved and sale.entry is EntryMode.FALLBACK
    assert sale.fallback and "6F00" in (sale.chip_error or "")
    assert [m.points for m in sale.points] == [88]  # consumption points only, no chip payment
    summary = rig.terminal.journal.entry(sale.txn_id).summary
    assert summary["fallback"] is True and summary["chip_error"] == sale.chip_error
    slip = rig.terminal.slip(sale.txn_id)
    assert slip.fallback and slip.chip_error == sale.chip_error


def test_a_working_chip_never_asks_for_the_stripe(rig: Rig) -> None:
    sale = rig.terminal.purchase(20_00, pin=PIN, swipe=lambda: pytest.fail("swipe asked"))
    assert sale.approved and sale.entry is EntryMode.CHIP and sale.chip_error is None


def test_swiping_a_chip_card_without_a_chip_failure_is_refused(rig: Rig) -> None:
    with pytest.raises(FallbackNotAllowedError):
        rig.terminal.stripe_purchase(20_00, _wedge())
    (entry,) = rig.terminal.journal.entries()
    assert entry.status is TxnStatus.DECLINED


def test_a_stripe_with_a_wrong_cvv_is_declined_online(rig: Rig) -> None:
    forged = Track2(SAMPLE.debit.pan, "3012", "201", "1000000000", check_luhn=False)
    sale = rig.terminal.stripe_purchase(20_00, forged.encode(), chip_error="chip mute")
    assert sale.status is TxnStatus.DECLINED and "CVV" in sale.message and sale.points == []
