"""The fast layout path answers exactly what ``construct`` answers, or steps aside.

For every layout of every registered spec (and the purse data layouts): on any input the
fast parser either returns what ``construct`` parses (plain fields, same trailing-bytes
verdict) or ``None`` — never a value where ``construct`` raises, such as a fixed-length
field cut short. The fast builder likewise returns ``construct``'s bytes or ``None``.
"""

from __future__ import annotations

import io
from typing import Any

import construct
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.commands import all_specs, purse_data
from apdu_specs.commands._fast_layout import FastVariants, fast_layout
from apdu_specs.commands.globalplatform import (
    DELETE,
    EXTERNAL_AUTHENTICATE,
    INITIALIZE_UPDATE,
    PUT_KEY,
)
from apdu_specs.commands.purse import INITIALIZE_FOR_LOAD
from apdu_specs.commands.spec import to_plain

LAYOUTS: list[tuple[str, construct.Construct]] = [
    *((f"{s.key} data", s.data) for s in all_specs() if s.data is not None),
    *((f"{s.key} response", s.response) for s in all_specs() if s.response is not None),
    *((name, value) for name, value in vars(purse_data).items()
      if isinstance(value, construct.Construct) and isinstance(value, construct.Struct)),
]


def _construct_parse(con: construct.Construct, data: bytes) -> tuple[Any, int] | None:
    stream = io.BytesIO(data)
    try:
        value = to_plain(con.parse_stream(stream))
    except construct.ConstructError:
        return None
    return value, stream.tell()


def _construct_build(con: construct.Construct, obj: Any) -> bytes | None:
    try:
        return bytes(con.build(obj))
    except (construct.ConstructError, TypeError, ValueError, KeyError):
        return None


def test_most_layouts_take_the_fast_path() -> None:
    flat = [name for name, con in LAYOUTS if fast_layout(con) is not None]
    assert len(flat) >= len(LAYOUTS) - 3
    assert fast_layout(PUT_KEY.data) is not None  # a GreedyRange of flat items
    # one flat layout per SCP (and per SCP03 i parameter), chosen by the same key
    assert isinstance(fast_layout(INITIALIZE_UPDATE.response), FastVariants)
    assert isinstance(fast_layout(EXTERNAL_AUTHENTICATE.data), FastVariants)  # by length


@pytest.mark.parametrize(("name", "con"), LAYOUTS, ids=[name for name, _ in LAYOUTS])
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=40))
def test_parse_agrees_with_construct(name: str, con: construct.Construct, data: bytes) -> None:
    fast = fast_layout(con)
    if fast is None:
        return
    expected = _construct_parse(con, data)
    exact = fast.parse(data, exact=True)
    if expected is None or expected[1] != len(data):
        assert exact is None
    else:
        assert exact == expected[0]
    prefix = fast.parse(data, exact=False)
    assert prefix is None if expected is None else prefix == expected[0]
    if expected is not None:
        assert fast.build(expected[0]) == _construct_build(con, expected[0])


@pytest.mark.parametrize(("name", "con"), LAYOUTS, ids=[name for name, _ in LAYOUTS])
@settings(max_examples=30, deadline=None)
@given(value=st.one_of(st.integers(-1, 1 << 33), st.binary(max_size=300), st.none(),
                       st.booleans(), st.lists(st.binary(max_size=4), max_size=2)))
def test_build_never_accepts_what_construct_refuses(name: str, con: construct.Construct,
                                                     value: Any) -> None:
    fast = fast_layout(con)
    if fast is None or not isinstance(con, construct.Struct):
        return
    names = [sub.name for sub in con.subcons if sub.name]
    for field in names:
        obj = {n: value for n in names}
        obj[field] = value
        built = fast.build(obj)
        if built is not None:
            assert built == _construct_build(con, obj)


@settings(max_examples=80, deadline=None)
@given(entries=st.lists(st.fixed_dictionaries({
    "type": st.integers(0, 255), "key": st.binary(max_size=40), "kcv": st.binary(max_size=4)}),
    max_size=4), kvn=st.integers(0, 255), cut=st.integers(0, 200))
def test_put_key_round_trips_like_construct(entries: list[dict[str, Any]], kvn: int,
                                            cut: int) -> None:
    con = PUT_KEY.data
    fast = fast_layout(con)
    assert fast is not None
    obj = {"new_key_version": kvn, "keys": entries}
    built = fast.build(obj)
    assert built == _construct_build(con, obj)
    assert built is not None
    data = built[:cut]
    expected = _construct_parse(con, data)
    exact = fast.parse(data, exact=True)
    if expected is None or expected[1] != len(data):
        assert exact is None
    else:
        assert exact == expected[0]


def test_short_fields_are_refused_as_construct_refuses_them() -> None:
    # DELETE data is 4F ‖ L ‖ AID: a length announcing more bytes than follow
    fast = fast_layout(DELETE.data)
    assert fast is not None
    assert _construct_parse(DELETE.data, b"\x4f\x05\x01\x02") is None
    assert fast.parse(b"\x4f\x05\x01\x02", exact=True) is None
    assert fast.parse(b"\x4f\x05\x01\x02", exact=False) is None
    # INITIALIZE FOR LOAD: key index, amount(4), terminal id(6) cut one byte short
    load = fast_layout(INITIALIZE_FOR_LOAD.data)
    assert load is not None
    short = bytes.fromhex("01000003E8") + bytes(5)
    assert _construct_parse(INITIALIZE_FOR_LOAD.data, short) is None
    assert load.parse(short, exact=True) is None and load.parse(short, exact=False) is None


def _answer_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Fields of an INITIALIZE UPDATE answer of any SCP the spec knows."""
    kdd, kvn = draw(st.binary(min_size=10, max_size=10)), draw(st.integers(0, 255))
    base = {"key_diversification_data": kdd, "key_version": kvn}
    if draw(st.booleans()):
        return {**base, "scp": 2, "sequence_counter": draw(st.integers(0, 0xFFFF)),
                "card_challenge": draw(st.binary(min_size=6, max_size=6)),
                "card_cryptogram": draw(st.binary(min_size=8, max_size=8))}
    i = draw(st.integers(0, 255))
    n = 16 if i & 0x01 else 8
    fields = {**base, "scp": 3, "i": i, "card_challenge": draw(st.binary(min_size=n, max_size=n)),
              "card_cryptogram": draw(st.binary(min_size=n, max_size=n))}
    if i & 0x10:
        fields["sequence_counter"] = draw(st.integers(0, 0xFFFFFF))
    return fields


@settings(max_examples=150, deadline=None)
@given(fields=st.composite(_answer_fields)(), cut=st.integers(0, 50),
       flip=st.integers(0, 49), extra=st.binary(max_size=3))
def test_initialize_update_variants_agree_with_construct(fields: dict[str, Any], cut: int,
                                                         flip: int, extra: bytes) -> None:
    con = INITIALIZE_UPDATE.response
    fast = fast_layout(con)
    assert fast is not None
    built = fast.build(fields)
    assert built is not None and built == _construct_build(con, fields)
    assert fast.parse(built, exact=False) == fields == _construct_parse(con, built)[0]
    flipped = bytearray(built)
    flipped[flip % len(built)] ^= 0x11  # may change the SCP or the i parameter
    for data in (built[:cut], built + extra, bytes(flipped)):
        expected = _construct_parse(con, data)
        got = fast.parse(data, exact=False)
        assert got is None if expected is None else got == expected[0]


@settings(max_examples=60, deadline=None)
@given(cryptogram=st.binary(max_size=20), mac=st.binary(max_size=20))
def test_external_authenticate_variants_agree_with_construct(cryptogram: bytes,
                                                             mac: bytes) -> None:
    con = EXTERNAL_AUTHENTICATE.data
    fast = fast_layout(con)
    assert fast is not None
    obj = {"host_cryptogram": cryptogram, "mac": mac}
    built, expected = fast.build(obj), _construct_build(con, obj)
    assert built is None or built == expected
    data = cryptogram + mac
    parsed = _construct_parse(con, data)
    assert fast.parse(data, exact=True) == (None if parsed is None else parsed[0])


def test_a_length_keyed_variant_builds_what_construct_builds_when_an_earlier_one_refuses() -> None:
    """EXTERNAL AUTHENTICATE's data is keyed by its length (8 + 8 bytes for SCP02, 16 + 16
    for SCP03 S16): sixteen-byte fields do not fit the first variant, so construct goes on
    to the next; the fast path must too, not give up."""
    (con,) = [c for name, c in LAYOUTS if name == "gp:EXTERNAL AUTHENTICATE data"]
    fast = fast_layout(con)
    assert fast is not None
    fields = {"host_cryptogram": bytes(16), "mac": bytes(16)}
    assert fast.build(fields) == _construct_build(con, fields) == bytes(32)
