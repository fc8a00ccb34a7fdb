"""Slips (F8) print in 40 columns and read back into the same fields (F9); the merchant's
order slip (F26) carries the goods and the payment."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.pos import (
    Order,
    OrderLine,
    PaymentMethod,
    POSError,
    Slip,
    SlipPoints,
    format_cny,
    parse_cny,
    parse_slip,
    render_slip,
)
from host.pos.slip import WIDTH, SlipFormatError
from host.testing.personalise import SAMPLE

from .conftest import PIN, Rig

_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/.-:()")
_WORD = st.text(_CHARS, min_size=1, max_size=12)


def _words(max_words: int) -> st.SearchStrategy[str]:
    return st.lists(_WORD, min_size=1, max_size=max_words).map(" ".join)


_short = st.text(_CHARS, min_size=1, max_size=26)
_points = st.builds(SlipPoints, st.sampled_from(["CONSUMPTION", "BANK", "CREDIT"]),
                    st.integers(-10**6, 10**6), st.integers(0, 10**8))
slips = st.builds(
    Slip,
    merchant_name=_words(4).filter(lambda s: len(s) <= WIDTH),
    merchant_id=_short, terminal_id=st.text("0123456789ABCDEF", min_size=12, max_size=12),
    txn_id=st.integers(1, 999_999).map(lambda n: f"{n:06d}"),
    when=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)).map(
        lambda d: d.replace(microsecond=0)),
    kind=st.sampled_from(["SALE", "POINTS", "CONVERSION", "PREMIUM"]),
    result=st.sampled_from(["APPROVED", "DECLINED", "REFERRAL", "INCOMPLETE", "VOIDED"]),
    card=st.one_of(st.just(""), _short), holder=st.one_of(st.just(""), _short),
    application=st.one_of(st.just(""), _words(3)),
    entry=st.sampled_from(["", "CHIP", "FALLBACK"]),
    amount=st.one_of(st.none(), st.integers(0, 10**12)),
    arc=st.one_of(st.none(), st.sampled_from(["00", "01", "05", "Y3", "Z3"])),
    atc=st.one_of(st.none(), st.integers(0, 0xFFFF)),
    cryptogram=st.one_of(st.none(), st.binary(min_size=8, max_size=8).map(
        lambda b: b.hex().upper())),
    points=st.lists(_points, max_size=3).map(tuple),
    redeemed=st.one_of(st.none(), st.integers(0, 10**9)),
    chip_error=st.one_of(st.none(), _words(12)),
    note=st.one_of(st.just(""), _words(15)),
)


@settings(max_examples=150, deadline=None)
@given(slips)
def test_a_printed_slip_reads_back_into_the_same_fields(slip: Slip) -> None:
    text = render_slip(slip)
    assert all(len(line) <= WIDTH for line in text.splitlines())
    assert parse_slip(text) == slip


@settings(max_examples=100, deadline=None)
@given(st.integers(-10**12, 10**12))
def test_amounts_print_as_cny_and_read_back(fen: int) -> None:
    text = format_cny(fen)
    assert text.startswith(("CNY ", "-CNY ")) and parse_cny(text) == fen


def test_not_a_slip() -> None:
    with pytest.raises(SlipFormatError):
        parse_slip("hello")
    good = render_slip(Slip("SHOP", "shop", "0000000A0001", "000001",
                            dt.datetime(2025, 6, 18, 9, 0), "SALE", "APPROVED"))
    with pytest.raises(SlipFormatError, match="unknown field"):
        parse_slip(good.replace("TYPE", "TYP3"))
    with pytest.raises(SlipFormatError, match="line"):
        parse_slip(good.replace("2025-06-18", "2025-13-18"))
    with pytest.raises(ValueError):
        parse_cny("12.34")


def test_a_sale_slip_links_the_holder_to_the_settlement(rig: Rig) -> None:
    sale = rig.terminal.purchase(123_45, pin=PIN, method=PaymentMethod.CREDIT)
    text = rig.terminal.receipt(sale.txn_id)
    assert SAMPLE.credit.pan not in text and "620000******0013" in text
    slip = parse_slip(text)
    assert (slip.txn_id, slip.amount, slip.result, slip.holder) == (
        sale.txn_id, 123_45, "APPROVED", "ZHANG/SAN")
    assert slip.cryptogram == (sale.cryptogram or b"").hex().upper()
    assert [(p.purse, p.points) for p in slip.points] == [("CONSUMPTION", 123),
                                                          ("CREDIT", 123)]
    assert slip == rig.terminal.slip(sale.txn_id)


def test_the_order_slip_prints_at_the_merchant(rig: Rig) -> None:
    order = Order("ORD-7", (OrderLine("GREEN TEA 250G", 2, 38_00),
                            OrderLine("TEA CUP", 1, 12_50)), "12 RIVER ROAD, SHANGHAI")
    sale = rig.terminal.purchase(order=order, pin=PIN)
    assert sale.amount == 88_50 and sale.approved
    text = rig.terminal.order_slip(sale.txn_id)
    assert "2 x GREEN TEA 250G" in text and "CNY 88.50" in text and "RIVER ROAD" in text
    assert f"TXN {sale.txn_id} APPROVED" in text
    assert all(len(line) <= WIDTH for line in text.splitlines())
    other = rig.terminal.purchase(5_00, pin=PIN)
    with pytest.raises(POSError, match="not made with an order"):
        rig.terminal.order_slip(other.txn_id)
    with pytest.raises(POSError):
        Order("ORD-8", ())
    with pytest.raises(POSError):
        OrderLine("X", 0, 1)
