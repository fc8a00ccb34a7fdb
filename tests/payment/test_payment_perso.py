"""Personalisation DGIs of the payment applications, and the magnetic stripe's tracks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from apdu_specs.crypto.cvv import cvv
from apdu_specs.magstripe.discretionary import DiscretionaryData
from apdu_specs.magstripe.tracks import Track1, Track2
from apdu_specs.payment import dgi as D
from apdu_specs.payment.aids import LOAD_FILE_AID
from apdu_specs.sw import SWError
from cardlib.chip import Chip
from cardlib.payment.install import module_for
from host.payment.client import PaymentClient
from host.payment.errors import PaymentProfileError
from host.payment.perso import application_dgis
from host.payment.profile import ApplicationProfile, Product
from host.payment.stripe import encode_stripe, stripe_cvv_ok, track2_equivalent
from tests.payment.cards import DEBIT, KEYS, chip1, personalised_card

DGIS = application_dgis(DEBIT, KEYS)


def fresh_application():
    chip = Chip("chip1")
    chip.content.install(LOAD_FILE_AID, module_for(DEBIT.application_aid), DEBIT.application_aid)
    return chip, chip.content.instance(DEBIT.application_aid)


def store_dgi(chip: Chip, applet, dgi: int, data: bytes) -> None:
    """One STORE DATA: the DGI's writes commit only if it is accepted."""
    with chip.memory.transaction():
        applet.personalize(dgi, data)


def by_id(dgi: int) -> bytes:
    return next(data for d, data in DGIS if d == dgi)


@pytest.mark.parametrize(("dgi", "data", "sw"), [
    (D.MASTER_KEYS, by_id(D.MASTER_KEYS), 0x6985),  # keys before 0E01
    (D.KEY_CHECK_VALUES, by_id(D.KEY_CHECK_VALUES), 0x6985),  # KCVs before keys
    (0x7F01, b"\x00", 0x6A88),  # unknown DGI
    (0x0101, bytes.fromhex("7103010203"), 0x6A80),  # not a record template
    (D.GPO_RESPONSE, bytes.fromhex("1C00080102"), 0x6A80),  # AFL not a multiple of 4
    (D.PIN, bytes.fromhex("2F1234FFFFFFFFFF"), 0x6A80),  # malformed PIN block
    (D.CRYPTO_PARAMETERS, bytes.fromhex("7701020000"), 0x6A80),  # unknown CVN
])
def test_bad_or_early_dgis_are_refused(dgi: int, data: bytes, sw: int) -> None:
    chip, applet = fresh_application()
    before = chip.snapshot()
    with pytest.raises(SWError) as err:
        store_dgi(chip, applet, dgi, data)
    assert err.value.sw == sw
    assert chip.snapshot() == before


def test_wrong_kcv_keeps_nothing_and_right_order_personalises() -> None:
    chip, applet = fresh_application()
    for dgi, data in DGIS[:3]:  # 0E01, 0D01, 8000
        store_dgi(chip, applet, dgi, data)
    with pytest.raises(SWError) as err:
        store_dgi(chip, applet, D.KEY_CHECK_VALUES, bytes(9))
    assert err.value.sw == 0x6A80
    for dgi, data in DGIS[3:]:
        store_dgi(chip, applet, dgi, data)
    with pytest.raises(SWError) as err:
        store_dgi(chip, applet, D.PIN_TRY_LIMIT, b"\x05")  # after the PIN
    assert err.value.sw == 0x6985


def test_half_personalised_application_refuses_gpo() -> None:
    card = personalised_card()
    content = card.card.chip1.content
    content.delete(DEBIT.application_aid)
    content.install(LOAD_FILE_AID, module_for(DEBIT.application_aid), DEBIT.application_aid)
    applet = content.instance(DEBIT.application_aid)
    for dgi, data in DGIS[:4]:
        applet.personalize(dgi, data)
    card.power_on()
    client = PaymentClient(chip1(card))
    client.select_application(DEBIT.application_aid)
    assert card.chip1.transmit(bytes.fromhex("80A800000283 0000".replace(" ", ""))) == b"\x69\x85"


def test_profile_validation() -> None:
    with pytest.raises(PaymentProfileError):
        replace(DEBIT, pan="6200000000000006")  # Luhn
    with pytest.raises(PaymentProfileError):
        replace(DEBIT, credit_limit=1)  # a debit application has no credit limit
    with pytest.raises(PaymentProfileError):
        replace(DEBIT, expiry="3013")
    with pytest.raises(PaymentProfileError):
        replace(DEBIT, cvn=0x99)


# --- the stripe --------------------------------------------------------------------------------

def test_stripe_carries_the_published_cvv_and_pvv() -> None:
    # CVV V48 (Visa test data, domain-facts §6.4): PAN 4123456789012345, 8701, SC 101 → 561.
    cvv_profile = ApplicationProfile(Product.DEBIT, "4123456789012345", "8701", "TEST/CARD",
                                     service_code="101", pin=None, check_luhn=False)
    tracks = encode_stripe(cvv_profile, KEYS)
    assert DiscretionaryData.parse(Track2.decode(tracks.track2, check_luhn=False).discretionary).cvv \
        == "561"
    # PVV V56 (psec tests): PVK 0123…3210, PAN 1122334455667788, PVKI 1, PIN 4524 → 8523.
    pvv_profile = ApplicationProfile(Product.DEBIT, "1122334455667788", "3012", "TEST/CARD",
                                     pin="4524", pvki="1", check_luhn=False)
    track1 = Track1.decode(encode_stripe(pvv_profile, KEYS).track1, check_luhn=False)
    assert DiscretionaryData.parse(track1.discretionary).pvv == "8523"
    assert track1.service_code == "201" and track1.name == "TEST/CARD"


def test_stripe_on_the_card_and_the_chip_track_with_icvv() -> None:
    card = personalised_card()
    tracks = encode_stripe(DEBIT, KEYS)
    card.card.stripe.track1, card.card.stripe.track2 = tracks.track1, tracks.track2
    twin = card.fork()
    assert (twin.card.stripe.track1, twin.card.stripe.track2) == (tracks.track1, tracks.track2)
    assert stripe_cvv_ok(twin.card.stripe.track2, KEYS)
    client = PaymentClient(chip1(card))
    client.select_application(DEBIT.application_aid)
    data = client.read_application_data(client.get_processing_options(bytes(4)).afl)
    assert data.objects[0x57] == track2_equivalent(DEBIT, KEYS)
    chip_track = data.track2
    assert chip_track.service_code == "201"
    icvv = DiscretionaryData.parse(chip_track.discretionary).cvv
    assert icvv == cvv(KEYS.cvk, DEBIT.pan, DEBIT.expiry, "999")
    assert not stripe_cvv_ok(Track2(chip_track.pan, chip_track.expiry, chip_track.service_code,
                                    chip_track.discretionary).encode(), KEYS)


def test_the_application_marks_itself_personalised_only_once_complete() -> None:
    chip, applet = fresh_application()
    for dgi, data in DGIS[:4]:
        store_dgi(chip, applet, dgi, data)
    applet.end_personalization()  # parameters and keys, but no GPO response, records, FCI…
    assert chip.content.record(DEBIT.application_aid).state == 0x07
    for dgi, data in DGIS[4:]:
        store_dgi(chip, applet, dgi, data)
    applet.end_personalization()
    assert chip.content.record(DEBIT.application_aid).state == 0x0F
