"""docs/pos.md runs as written: every python block, in order, in one namespace."""

from __future__ import annotations

from tests.docblocks import blocks, run

PAGE = "pos.md"


def _blocks() -> list[str]:
    return blocks(PAGE)


def _run(code: list[str]) -> None:
    namespace: dict[str, object] = {"__name__": "pos_guide"}
    try:
        run(PAGE, code, namespace)
    finally:
        office = namespace.get("office")
        if office is not None:
            office.close()  # type: ignore[attr-defined]


def test_the_guide_covers_the_terminal() -> None:
    text = "\n".join(_blocks())
    for needle in ("confirm_identity", "purchase(", "parse_slip", "order_slip", "spend_points",
                   "swipe=", "reconcile()", "upload()", "pay_premium"):
        assert needle in text, needle


def test_the_guide_runs_up_to_the_batch_upload(capsys) -> None:
    blocks = _blocks()
    first_upload = next(i for i, b in enumerate(blocks) if ".upload(" in b)
    _run(blocks[:first_upload])
    out = capsys.readouterr().out
    assert "620000******0005 ZHANG/SAN PIN verified" in out
    assert "wrong PIN, 2 tries left" in out
    assert "ORDER / DELIVERY SLIP" in out and "refused:" in out
    assert "interrupted during consumption points load" in out


def test_the_whole_guide_runs(capsys) -> None:
    _run(_blocks())
    assert "premium paid 50" in capsys.readouterr().out
