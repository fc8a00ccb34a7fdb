"""Malformed and unexpected APDUs to the ISD: always a status word, never an internal error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from .gp_helpers import blank, client

GP_INS = [0x50, 0x82, 0xCA, 0xF2, 0xF0, 0xE6, 0xE4, 0xD8, 0xE2, 0x00]

apdus = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda cla, ins, p1, p2, data: bytes([cla, ins, p1, p2, len(data)]) + data,
              st.sampled_from([0x80, 0x84, 0x00, 0x04, 0x81, 0x85, 0xC0]),
              st.sampled_from(GP_INS), st.integers(0, 255), st.integers(0, 255),
              st.binary(max_size=60)),
)

CARD = blank("fuzz")


@settings(max_examples=120, deadline=None)
@given(st.booleans(), st.lists(apdus, min_size=1, max_size=10))
def test_gp_fuzz_the_isd(authenticated: bool, sequence: list[bytes]) -> None:
    card = CARD.fork()
    gp = client(card, keys="default" if authenticated else None, level=0x33)
    for raw in sequence:
        raw = gp.channel.wrap(raw) if gp.channel is not None and _wrappable(raw) else raw
        out = card.chip1.transmit(raw)
        assert len(out) >= 2
    assert card.chip1.internal_errors == []


def _wrappable(raw: bytes) -> bool:
    return len(raw) >= 4 and raw[0] == 0x80 and (len(raw) == 4 or len(raw) == 5 + raw[4]) \
        and len(raw) < 200
