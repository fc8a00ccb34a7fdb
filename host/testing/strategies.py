"""Hypothesis strategies for APDUs and card data, for QA's own property tests.

``hypothesis`` is a development dependency: import this module from tests only.

- :func:`command_apdus` — command APDUs a spec accepts (its examples with fresh field
  values, P1/P2 from the declared values);
- :func:`malformed_apdus` — byte strings that are no valid command APDU at all (4 bytes
  at least, what PC/SC sends);
- :func:`tlv_trees` — BER-TLV objects, constructed ones nesting others;
- :func:`amounts` — money or points in minor units (ints, never floats);
- :func:`pans` — card numbers with a valid Luhn check digit;
- :func:`aids`, :func:`status_words` — application identifiers, status words.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from apdu_specs.apdu import CommandAPDU
from apdu_specs.commands.spec import CommandSpec, Param
from apdu_specs.crypto.luhn import check_digit
from apdu_specs.errors import APDUFormatError, ProtocolError
from apdu_specs.hexutil import parse_hex
from apdu_specs.tlv import TLV

__all__ = ["aids", "amounts", "command_apdus", "malformed_apdus", "pans", "status_words",
           "tlv_trees"]

#: the largest balance a 4-byte purse holds, and what an EMV n12 amount holds
PURSE_MAX = 0xFFFFFFFF
N12_MAX = 999_999_999_999


def amounts(*, max_value: int = PURSE_MAX, min_value: int = 0) -> st.SearchStrategy[int]:
    """Amounts in minor units (fen, cents, points), biased to the edges of the range."""
    if min_value < 0 or max_value < min_value:
        raise ValueError("amounts are 0 <= min_value <= max_value")
    edges = [v for v in (min_value, min_value + 1, max_value - 1, max_value)
             if min_value <= v <= max_value]
    return st.one_of(st.sampled_from(edges), st.integers(min_value, max_value))


def pans(*, length: int | tuple[int, int] = (16, 19), prefix: str = "62") -> st.SearchStrategy[str]:
    """Primary account numbers: ``prefix``, random digits, a Luhn check digit."""
    low, high = (length, length) if isinstance(length, int) else length
    if not prefix.isdigit() or not len(prefix) < low <= high <= 19:
        raise ValueError("a PAN has 8 to 19 digits and a numeric prefix shorter than it")
    return st.integers(low, high).flatmap(
        lambda n: st.text("0123456789", min_size=n - len(prefix) - 1,
                          max_size=n - len(prefix) - 1)
        .map(lambda body: prefix + body + check_digit(prefix + body)))


def aids(*, rid: bytes | None = None) -> st.SearchStrategy[bytes]:
    """Application identifiers: 5 to 16 bytes (a 5-byte RID, then the PIX)."""
    if rid is not None:
        return st.binary(min_size=0, max_size=16 - len(rid)).map(lambda pix: rid + pix)
    return st.binary(min_size=5, max_size=16)


def status_words() -> st.SearchStrategy[int]:
    """Status words in the ISO ranges (61xx–6Fxx, 90xx–9Fxx)."""
    return st.one_of(st.integers(0x6100, 0x6FFF), st.integers(0x9000, 0x9FFF))


# --- TLV ---------------------------------------------------------------------------------

def _tags(constructed: bool) -> st.SearchStrategy[int]:
    """Well-formed one- and two-byte BER tags, primitive or constructed."""
    bit = 0x20 if constructed else 0x00
    one = st.integers(0, 0x1E).flatmap(
        lambda number: st.sampled_from([0x40, 0x80, 0xC0, 0x00]).map(
            lambda cls: cls | bit | number)).filter(lambda t: t != 0x00)
    # FF and 00 never start a tag: EMV reads them as padding between objects
    two = st.tuples(st.sampled_from([0x5F, 0x9F, 0xDF, 0x7F, 0xBF]),
                    st.integers(0x01, 0x7F)).map(lambda t: (t[0] << 8) | t[1]).filter(
        lambda t: bool(t >> 8 & 0x20) == constructed)
    return st.one_of(one, two)


def tlv_trees(*, max_leaves: int = 12, max_value: int = 32) -> st.SearchStrategy[TLV]:
    """A TLV object; constructed ones hold a list of nested objects."""
    leaves = st.builds(lambda tag, value: TLV.build(tag, value),
                       _tags(constructed=False), st.binary(max_size=max_value))
    return st.recursive(
        leaves,
        lambda children: st.builds(lambda tag, kids: TLV.build(tag, kids),
                                   _tags(constructed=True), st.lists(children, max_size=4)),
        max_leaves=max_leaves)


# --- APDUs -------------------------------------------------------------------------------

def _param_values(param: Param) -> st.SearchStrategy[int]:
    if param.fixed is not None:
        return st.just(param.fixed)
    if param.values:
        known = st.sampled_from(sorted(param.values))
        return known if param.strict else st.one_of(known, st.integers(0, 0xFF))
    return st.integers(0, 0xFF)


def _mutated(value: Any) -> st.SearchStrategy[Any]:
    """Same shape as an example's field value, fresh content."""
    if isinstance(value, bytes):
        return st.binary(min_size=len(value), max_size=len(value))
    if isinstance(value, bool):
        return st.just(value)
    if isinstance(value, int):
        width = max(1, (value.bit_length() + 7) // 8)
        return st.one_of(st.just(value), st.integers(0, (1 << (8 * width)) - 1))
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: _mutated(v) for k, v in value.items()})
    if isinstance(value, list):
        return st.tuples(*(_mutated(v) for v in value)).map(list)
    return st.just(value)


def _build(spec: CommandSpec, example_fields: dict[str, Any], data: Any, p1: int,
           p2: int) -> CommandAPDU | None:
    fields = {**example_fields, spec.p1.name: p1, spec.p2.name: p2}
    if data is not None:
        fields["data"] = data
    try:
        apdu = spec.build(fields)
        spec.parse(apdu)
    except ProtocolError:
        return None
    return apdu


def command_apdus(spec: CommandSpec) -> st.SearchStrategy[CommandAPDU]:
    """Command APDUs ``spec`` parses: each example's fields with new values of the same shape.

    Integer fields keep their byte width, so a layout that encodes a length or a fixed
    value may reject some draws; those are filtered out (and a spec whose examples leave
    nothing to vary yields its examples).
    """
    if not spec.examples:
        raise ValueError(f"{spec.key} has no examples to build command APDUs from")
    fixed = [CommandAPDU.parse(parse_hex(e.command)) for e in spec.examples]

    def from_example(example_fields: dict[str, Any]) -> st.SearchStrategy[CommandAPDU | None]:
        data = example_fields.get("data")
        return st.builds(lambda d, p1, p2: _build(spec, example_fields, d, p1, p2),
                         _mutated(data) if data is not None else st.none(),
                         _param_values(spec.p1), _param_values(spec.p2))

    varied = st.sampled_from([dict(e.fields) for e in spec.examples]).flatmap(from_example)
    return st.one_of(st.sampled_from(fixed), varied.filter(lambda a: a is not None))  # type: ignore[arg-type]


def _is_malformed(raw: bytes) -> bool:
    try:
        CommandAPDU.parse(raw)
    except APDUFormatError:
        return True
    return False


def malformed_apdus(*, min_size: int = 4) -> st.SearchStrategy[bytes]:
    """Bytes that no command APDU encodes: lengths that do not add up, and, with
    ``min_size`` below 4, strings too short to hold a header.

    PC/SC refuses to send fewer than 4 bytes (the card never sees them), so by default
    every draw has a full header: what a broken terminal sends reaches a card in any reader.
    """
    if not 0 <= min_size <= 4:
        raise ValueError("min_size is 0 to 4: a longer malformed APDU has a full header anyway")
    header = st.binary(min_size=4, max_size=4)
    short_lc_mismatch = st.tuples(header, st.integers(1, 255), st.binary(max_size=300)).map(
        lambda t: t[0] + bytes([t[1]]) + t[2]).filter(_is_malformed)
    zero_lc = st.tuples(header, st.binary(min_size=1, max_size=1)).map(
        lambda t: t[0] + b"\x00" + t[1])
    extended = st.tuples(header, st.integers(0, 0xFFFF), st.binary(max_size=40)).map(
        lambda t: t[0] + b"\x00" + t[1].to_bytes(2, "big") + t[2]).filter(_is_malformed)
    shapes = [short_lc_mismatch, zero_lc, extended]
    if min_size < 4:
        shapes.insert(0, st.binary(min_size=min_size, max_size=3))
    return st.one_of(shapes)
