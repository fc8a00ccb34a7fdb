"""The applet tutorial's own tests (examples/stamp_card/tests), run with the project's."""

from __future__ import annotations

import importlib.util

from tests.qa._examples import STAMP_CARD, use_stamp_card

use_stamp_card()

_spec = importlib.util.spec_from_file_location(
    "stamp_card_tutorial_tests", STAMP_CARD / "tests" / "test_stamp_card.py")
assert _spec is not None and _spec.loader is not None
_tutorial = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tutorial)

# pytest collects these names from this module: the tutorial's fixture and tests, unchanged
stamp = _tutorial.stamp
test_ten_stamps_make_a_reward = _tutorial.test_ten_stamps_make_a_reward
test_redeeming_too_early_changes_nothing = _tutorial.test_redeeming_too_early_changes_nothing
test_the_pos_sees_a_full_card = _tutorial.test_the_pos_sees_a_full_card
test_redeem_is_all_or_nothing_at_every_tear_point = \
    _tutorial.test_redeem_is_all_or_nothing_at_every_tear_point
