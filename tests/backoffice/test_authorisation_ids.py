"""Authorisation ids: unpredictable (64 random bits) and, made one after another, in
order, so that a group's records and holds land together in their indexes (D60)."""

from __future__ import annotations

import re
import time

from host.backoffice.authorisations import new_authorisation_id


def test_an_id_is_its_kind_the_time_and_64_random_bits() -> None:
    made = new_authorisation_id("chip")
    match = re.fullmatch(r"auth-chip-([0-9a-f]{12})([0-9a-f]{16})", made)
    assert match is not None
    assert abs(int(match[1], 16) - time.time_ns() // 1_000_000) < 60_000


def test_ids_made_later_sort_later() -> None:
    made = []
    for _ in range(5):
        made.append(new_authorisation_id("stripe"))
        time.sleep(0.002)
    assert made == sorted(made)


def test_ids_made_in_the_same_millisecond_differ_in_their_random_part() -> None:
    made = [new_authorisation_id("chip") for _ in range(2_000)]
    assert len({m[-16:] for m in made}) == 2_000
