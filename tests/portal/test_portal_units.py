"""The portal's pure parts: money formatting, the language choice, the catalogue, charts."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.portal.app import fen, safe_next
from host.portal.charts import Bar, bar_chart
from host.portal.i18n import CATALOGUE, choose, text

pytestmark = pytest.mark.unit


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_money_reads_back_as_the_same_minor_units(amount: int) -> None:
    shown = fen(amount)
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d\d", shown)
    assert int(shown.replace(",", "").replace(".", "")) == amount


@given(st.sampled_from(["en", "zh", None, "", "fr", "zh\u0000"]), st.text(max_size=40))
def test_the_language_is_always_one_of_ours(cookie: str | None, header: str) -> None:
    assert choose(cookie, header) in ("en", "zh")


@pytest.mark.parametrize(("cookie", "header", "chosen"), [
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"), (None, "fr-FR, en;q=0.5", "en"),
    ("en", "zh-CN", "en"), (None, None, "en"), ("zh", "en", "zh"), (None, "ZH-tw", "zh")])
def test_the_cookie_wins_then_the_browser(cookie: str | None, header: str | None,
                                          chosen: str) -> None:
    assert choose(cookie, header) == chosen


def test_both_languages_fill_the_same_blanks() -> None:
    for key, (english, chinese) in CATALOGUE.items():
        fields = {name for _, name, _, _ in string.Formatter().parse(english) if name}
        assert fields == {name for _, name, _, _ in string.Formatter().parse(chinese) if name}, key
        assert english.strip() and chinese.strip(), key
    assert text("throttled", "zh", seconds=5) == "失败次数过多，请 5 秒后再试。"
    with pytest.raises(KeyError):
        text("no such key", "en")


@given(st.lists(st.tuples(st.text(max_size=20), st.integers(-10**9, 10**9)), max_size=8))
def test_a_chart_draws_one_bar_per_figure_and_escapes_labels(rows: list[tuple[str, int]]) -> None:
    svg = bar_chart("t<itle>", [Bar(label, value, str(value)) for label, value in rows])
    assert svg.count("<rect ") == len(rows)
    assert [int(v) for v in re.findall(r'data-value="(-?\d+)"', svg)] == [v for _, v in rows]
    assert "<itle>" not in svg and "<script" not in svg


@pytest.mark.parametrize(("target", "kept"), [
    ("/portal/me", True), ("/portal/history/a:b", True), ("https://evil.example/", False),
    ("//evil.example/portal/", False), ("/portal", False), ("/other", False),
    ("/portal/\\evil", False)])
def test_a_language_switch_goes_back_only_into_the_portal(target: str, kept: bool) -> None:
    assert safe_next("/portal", target) == (target if kept else "/portal/")
