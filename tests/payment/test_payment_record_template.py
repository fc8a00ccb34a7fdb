"""Record 2 with issuer template objects: added after the record's own, same tag replaced."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.payment import dgi as D
from apdu_specs.tlv import parse_tlvs
from host.payment.perso import application_dgis
from tests.payment.cards import CREDIT, DEBIT, KEYS

_RECORD_2 = D.record_dgi(1, 2)


def _record_2(dgis: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    (template,) = parse_tlvs(dict(dgis)[_RECORD_2])
    assert template.tag == 0x70
    return [(o.tag, o.value) for o in template.children]


def test_template_adds_and_replaces_objects_of_record_2() -> None:
    plain = application_dgis(DEBIT, KEYS)
    template = {0x9F08: b"\x00\x02", 0xDF01: b"\x01", 0x5F24: bytes.fromhex("301231")}
    dgis = application_dgis(DEBIT, KEYS, record_template=template)
    expected = [(t, v) for t, v in _record_2(plain) if t not in template] + list(template.items())
    assert _record_2(dgis) == expected
    assert dict(dgis)[_RECORD_2] != dict(plain)[_RECORD_2]
    # every other DGI is the one built without a template
    assert [d for d in dgis if d[0] != _RECORD_2] == [d for d in plain if d[0] != _RECORD_2]


@settings(max_examples=40, deadline=None)
@given(template=st.dictionaries(st.sampled_from([0x5A, 0x5F24, 0x5F25, 0x8E, 0x9F08, 0x9F42,
                                                 0xDF01, 0x9F4D]),
                                st.binary(min_size=1, max_size=8), max_size=4),
       credit=st.booleans())
def test_template_is_applied_as_parsing_and_replacing_would(template: dict[int, bytes],
                                                            credit: bool) -> None:
    profile = CREDIT if credit else DEBIT
    own = _record_2(application_dgis(profile, KEYS))
    built = _record_2(application_dgis(profile, KEYS, record_template=template))
    assert built == [(t, v) for t, v in own if t not in template] + list(template.items())
