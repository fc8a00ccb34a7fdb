"""The magnetic stripe of a dual-chip card: tracks 1 and 2 with PVV and CVV (issuer work).

The card only carries the strings; computing them needs the issuer's CVK and PVK,
so this lives on the host. Service code 201 (international, chip present: use the
chip where the terminal has one). Discretionary data is PVKI ‖ PVV ‖ CVV
(:class:`apdu_specs.magstripe.discretionary.DiscretionaryData`). Tag 57 on the chip
carries the same track 2 with the iCVV (CVV computed with service code 999), so a
skimmed chip track does not verify as a stripe.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.magstripe.discretionary import DiscretionaryData
from apdu_specs.magstripe.tracks import Track1, Track2

from .keys import CardChecks
from .profile import ApplicationProfile

__all__ = ["ICVV_SERVICE_CODE", "StripeTracks", "encode_stripe", "stripe_cvv_ok", "stripe_refusal",
           "track2_equivalent"]

ICVV_SERVICE_CODE = "999"
NO_PVV = "0000"
#: a profile checked its PAN's Luhn digit when it was made (if ``check_luhn``; it is frozen),
#: so the tracks built from it check everything else but not that again
_RECHECK_LUHN = False


@dataclass(frozen=True)
class StripeTracks:
    """Track strings as recorded: sentinels and LRC included."""

    track1: str
    track2: str


def _discretionary(profile: ApplicationProfile, keys: CardChecks, cvv_service_code: str) -> str:
    pin_check = (keys.pvv(profile.pan, profile.pvki, profile.pin)
                 if profile.pin is not None and len(profile.pin) == 4 else NO_PVV)
    card_check = keys.cvv(profile.pan, profile.expiry, cvv_service_code)
    return DiscretionaryData(profile.pvki, pin_check, card_check).encode()


def encode_stripe(profile: ApplicationProfile, keys: CardChecks) -> StripeTracks:
    """Tracks 1 and 2 for the application the stripe stands for."""
    data = _discretionary(profile, keys, profile.service_code)
    t1 = Track1(profile.pan, profile.cardholder_name, profile.expiry, profile.service_code, data,
                check_luhn=_RECHECK_LUHN)
    t2 = Track2(profile.pan, profile.expiry, profile.service_code, data,
                check_luhn=_RECHECK_LUHN)
    return StripeTracks(t1.encode_with_lrc(), t2.encode_with_lrc())


def track2_equivalent(profile: ApplicationProfile, keys: CardChecks) -> bytes:
    """Tag 57 of the chip application: track 2 in BCD with the iCVV."""
    data = _discretionary(profile, keys, ICVV_SERVICE_CODE)
    return Track2(profile.pan, profile.expiry, profile.service_code, data,
                  check_luhn=_RECHECK_LUHN).to_track2_equivalent()


def stripe_cvv_ok(track2: str, keys: CardChecks) -> bool:
    """Issuer check of a swiped track 2: does its CVV verify under the CVK (wherever the
    CVK is: the key file's :class:`~.keys.IssuerKeys` or a key provider)?"""
    track = Track2.decode(track2, check_luhn=False)
    if track.expiry is None or track.service_code is None:
        return False
    expected = keys.cvv(track.pan, track.expiry, track.service_code)
    return DiscretionaryData.parse(track.discretionary).cvv == expected


def stripe_refusal(track2: str, keys: CardChecks) -> str | None:
    """Why the issuer declines a swiped track 2 before its policy is asked (None: its CVV
    verifies)."""
    return None if stripe_cvv_ok(track2, keys) else "the stripe's CVV does not verify"
