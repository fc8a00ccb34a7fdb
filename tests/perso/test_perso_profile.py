"""Profile validation: the sample loads, and every kind of mistake names its field."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.luhn import is_valid
from apdu_specs.documents import DocumentError
from apdu_specs.payment.aids import PPSE_NAME, PSE_NAME
from host.perso import ProfileError, load_profile, parse_profile
from host.perso.profile import AppKind

from .perso_helpers import PROFILE

pytestmark = pytest.mark.unit

SAMPLE: dict[str, Any] = tomllib.loads(PROFILE.read_text())


def test_sample_profile(tmp_path: Path) -> None:
    profile = load_profile(PROFILE)
    assert profile.suite.name == "AES" and profile.cvn == 0x22
    assert [a.name for a in profile.applications] == ["PSE", "PPSE", "debit", "credit", "purse"]
    assert profile.chip_apps(1)[0].aid == PSE_NAME and profile.chip_apps(1)[1].aid == PPSE_NAME
    assert [a.kind for a in profile.chip_apps(2)] == [AppKind.PURSE]
    credit = profile.applications[3].payment
    assert credit is not None and credit.credit_limit == 2_000_000
    assert credit.template == {0x9F08: b"\x00\x02"}
    assert profile.points.initial[Purse.CONSUMPTION] == 1000
    assert profile.pin.length == 6 and profile.isd_key_version == 1
    assert len(profile.fingerprint) == 64


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(SAMPLE)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(("path", "value", "field", "message"), [
    ("format", "other", "format", "must be"),
    ("version", 7, "version", "7 is not supported"),
    ("issuer.suite", "BLOWFISH", "issuer.suite", "unknown algorithm suite"),
    ("issuer.suite", "SM4", "issuer.suite", "payment applications need AES or TDES"),
    ("issuer.country", "15", "issuer.country", "3 decimal digits"),
    ("issuer.isd_key_version", 0x80, "issuer.isd_key_version", "between 1 and 127"),
    ("card.id_prefix", "88X0", "card.id_prefix", "decimal digits"),
    ("card.pan_range.length", 30, "card.pan_range.length", "between 12 and 19"),
    ("pin.length", 3, "pin.length", "between 4 and 12"),
    ("pin.try_limit", "3", "pin.try_limit", "whole number"),
    ("magstripe.service_code", "2010", "magstripe.service_code", "3 decimal digits"),
    ("chip1.applications.2.aid", "F000", "chip1.applications[2].aid", "5 to 16 bytes"),
    ("chip1.applications.2.aid", "XYZ", "chip1.applications[2].aid", "hex"),
    ("chip1.applications.2.offline_limit", -1, "chip1.applications[2].offline_limit",
     "between 0 and"),
    ("chip1.applications.2.label", "é", "chip1.applications[2].label", "printable ASCII"),
    ("chip1.applications.2.kind", "wallet", "chip1.applications[2].kind", "one of"),
    ("chip1.applications.2.colour", "red", "chip1.applications[2].colour", "not a known setting"),
    ("chip1.applications.3.template.9G08", "00", "chip1.applications[3].template.9G08", "hex tags"),
    ("points.initial.bank", 10**9, "points.initial.bank", "above points.max_balance.bank"),
    ("points.max_balance.gold", 5, "points.max_balance.gold", "not a known setting"),
    ("keys.isd", "", "keys.isd", "non-empty text"),
    ("name", _DELETE, "name", "is required"),
])
def test_errors_name_the_field(path: str, value: Any, field: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message) as info:
        parse_profile(_with(path, value))
    assert info.value.field == field


def test_an_application_on_the_wrong_chip() -> None:
    data = copy.deepcopy(SAMPLE)
    data["chip1"]["applications"].append({"kind": "purse"})
    with pytest.raises(ProfileError, match="belongs on chip 2") as info:
        parse_profile(data)
    assert info.value.field == "chip1.applications[4].kind"


def test_two_applications_with_one_aid() -> None:
    data = copy.deepcopy(SAMPLE)
    data["chip1"]["applications"][3]["aid"] = data["chip1"]["applications"][2]["aid"]
    with pytest.raises(ProfileError, match="used by both debit and credit"):
        parse_profile(data)


def test_a_file_that_is_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("name = [unterminated")
    with pytest.raises(DocumentError, match=r"p\.toml: not TOML"):
        load_profile(path)


def test_pan_range_exhaustion_is_clear() -> None:
    data = _with("card.pan_range", {"prefix": "62220200000000", "length": 16, "first": 9})
    profile = parse_profile(data)
    assert profile.card.pan_range is not None
    pan = profile.card.pan_range.pan_at(profile.card.pan_range.first)
    assert pan[:15] == "622202000000009" and is_valid(pan)
    with pytest.raises(ProfileError, match="exhausted"):
        profile.card.pan_range.pan_at(10)


def test_own_applications_mark_themselves_personalised_other_code_must_say_so() -> None:
    assert all(app.marks_personalized for app in parse_profile(SAMPLE).applications)
    other = _with("chip1.applications.2.module", "F0000000EE01")
    assert not parse_profile(other).applications[2].marks_personalized
    told = _with("chip1.applications.2.module", "F0000000EE01")
    told["chip1"]["applications"][2]["marks_personalized"] = True
    assert parse_profile(told).applications[2].marks_personalized
    with pytest.raises(ProfileError, match="true or false"):
        parse_profile(_with("chip1.applications.2.marks_personalized", "yes"))
