"""A planner made once per run plans every card as a planner made for that card alone."""

from __future__ import annotations

import datetime as _dt

from host.keystore import KeyFile
from host.perso import CardKeyFactory, HolderRecord, Profile, plan_card, resolve_card
from host.perso.plan import CardPlan, CardPlanner

from .perso_helpers import numbered

TODAY = _dt.date(2025, 3, 14)


def _content(plan: CardPlan) -> tuple[object, ...]:
    return (plan.card, [(a.spec, a.dgis, a.install_params) for a in plan.apps], plan.stripe,
            plan.kcvs)


def test_shared_planner_plans_as_a_fresh_one(profile: Profile, keys: KeyFile,
                                             holders: list[HolderRecord]) -> None:
    factory = CardKeyFactory(keys, profile)
    planner = CardPlanner(profile, factory)
    numbers = numbered(profile, holders)
    cards = [resolve_card(h, profile, numbers[h.index], today=TODAY, pin=f"{1357 + 11 * i:06d}")
             for i, h in enumerate(holders)]
    shared = [planner.plan(card) for card in reversed(cards)][::-1]
    for card, plan in zip(cards, shared, strict=True):
        assert _content(plan) == _content(plan_card(card, profile, factory))
    # different holders get different card data and keys, the same directories
    first, second = shared[0], shared[1]
    assert first.kcvs != second.kcvs
    assert [a.dgis for a in first.apps if a.spec.kind == "directory"] == \
        [a.dgis for a in second.apps if a.spec.kind == "directory"]
