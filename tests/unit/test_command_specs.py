"""Every example of every command spec round-trips; every spec has examples and docs."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs import docgen
from apdu_specs.apdu import CommandAPDU, ResponseAPDU
from apdu_specs.commands import all_specs
from apdu_specs.errors import SpecError
from apdu_specs.hexutil import parse_hex

SPECS = list(all_specs())
EXAMPLES = [(s, e) for s in SPECS for e in s.examples]


@pytest.mark.parametrize(("spec", "example"), EXAMPLES,
                         ids=[f"{s.key}:{e.title}" for s, e in EXAMPLES])
def test_example_round_trips(spec, example):
    raw = parse_hex(example.command)
    assert spec.parse(raw) == dict(example.fields)
    fields = {**example.fields, "ne": example.fields.get("ne")}  # no "ne": no Le field
    assert spec.build(fields, cla=raw[0]).encode() == raw
    if example.response is not None:
        resp = ResponseAPDU.parse(parse_hex(example.response))
        if example.response_fields is not None:
            assert spec.parse_response(resp.data) == dict(example.response_fields)
            assert spec.build_response(example.response_fields) == resp.data


@pytest.mark.parametrize("spec", SPECS, ids=[s.key for s in SPECS])
def test_every_spec_is_documented(spec):
    assert spec.examples, f"{spec.key} has no example"
    assert spec.summary and spec.reference, f"{spec.key} lacks summary or reference"
    assert spec.sws, f"{spec.key} lists no status words"


def test_reference_doc_is_current():
    path = Path(__file__).resolve().parents[2] / "docs" / "apdu-reference.md"
    assert path.read_text(encoding="utf-8") == docgen.render(), (
        "docs/apdu-reference.md is stale: run `make docs`")


@given(st.binary(max_size=300))
def test_parse_of_random_bytes_never_escapes_typed_errors(raw):
    for spec in SPECS:
        try:
            apdu = CommandAPDU.parse(bytes([spec.cla, spec.ins]) + raw)
        except SpecError:
            continue
        except ValueError:
            continue
        with contextlib.suppress(SpecError):
            spec.parse(apdu)
