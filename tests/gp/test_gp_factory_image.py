"""Blank chips made from the factory image equal chips the ISD is installed on one by one."""

from __future__ import annotations

import pytest

from apdu_specs.commands.gp_extra import build_cplc, parse_cplc
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.errors import SpecError
from cardlib.chip import Chip
from cardlib.security_domain import CardIdentity, ISDProfile, Suite, blank_chip, install_isd
from cardlib.security_domain.identity import _cplc_around_serial
from simulator.blank import new_blank_card


def _installed(role: str, **kwargs) -> Chip:
    chip = Chip(role)
    install_isd(chip, **kwargs)
    return chip


@pytest.mark.parametrize("suite", list(Suite))
@pytest.mark.parametrize("role", ["chip1", "chip2"])
@pytest.mark.parametrize("identity", ["blank", "card-0001", "DC00012345"])
def test_blank_chip_memory_is_what_install_isd_writes(suite: Suite, role: str,
                                                        identity: str) -> None:
    made = blank_chip(role, suite=suite, card_identity=identity)
    installed = _installed(role, suite=suite, card_identity=identity)
    # same keys, same values, same order (card images list keys in memory order)
    assert list(made.snapshot().items()) == list(installed.snapshot().items())


def test_blank_chip_with_iin_keys_and_profile() -> None:
    keys = StaticKeys(bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)), Algorithm.AES)
    profile = ISDProfile.for_suite("AES", max_auth_failures=3, status_page_size=128)
    kwargs = {"keys": keys, "profile": profile, "card_identity": "x", "iin": b"\x12\x34"}
    assert blank_chip("chip2", **kwargs).snapshot() == _installed("chip2", **kwargs).snapshot()


def test_blank_chip_checks_like_install_isd() -> None:
    keys = StaticKeys(bytes(16), bytes(16), bytes(16), Algorithm.SM4)
    for make in (lambda: blank_chip("chip1", suite="AES", keys=keys),
                 lambda: _installed("chip1", suite="AES", keys=keys)):
        with pytest.raises(ValueError, match="the profile's suite is AES"):
            make()


def test_blank_cards_from_the_image_are_independent() -> None:
    one, two = new_blank_card("a"), new_blank_card("b")
    assert one.snapshot().memories != two.snapshot().memories
    for sim, name in ((one, "a"), (two, "b")):
        for role, memory in sim.snapshot().memories.items():
            assert memory == _installed(role, card_identity=name).snapshot()


@pytest.mark.parametrize("ic_type", [b"\x00\x01", b"\x00\x02"])
def test_cplc_around_the_serial_is_build_cplc(ic_type: bytes) -> None:
    head, tail = _cplc_around_serial(ic_type)
    cplc = head + b"\xa1\xb2\xc3\xd4" + tail
    assert parse_cplc(cplc)["ic_serial_number"] == b"\xa1\xb2\xc3\xd4"
    assert parse_cplc(cplc)["ic_type"] == ic_type
    assert cplc == build_cplc({**parse_cplc(cplc)})


def test_identity_still_validates_the_cplc() -> None:
    good = CardIdentity.derive("x", "chip1")
    with pytest.raises(SpecError, match="CPLC must be 42 bytes"):
        CardIdentity(good.cplc[:41], good.kdd)
    with pytest.raises(SpecError, match="CPLC must be 42 bytes"):
        CardIdentity(b"\x9f\x7f\x2a" + good.cplc[3:], good.kdd)
    assert CardIdentity(b"\x9f\x7f\x2a" + good.cplc, good.kdd).cplc[:3] == b"\x9f\x7f\x2a"
