"""The dry run's STORE DATA count is the count the GP builder really produces."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.crypto.padding import pad_method2
from host.gp import DGI, apdus
from host.perso import AppPlan, Profile
from host.perso.estimate import store_data_blocks

pytestmark = pytest.mark.unit

_DGIS = st.lists(st.builds(DGI, st.integers(0x0101, 0x9FFF), st.binary(max_size=400),
                           st.booleans()), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(dgis=_DGIS, cipher_block=st.sampled_from([8, 16]))
def test_block_count_matches_the_builder(profile: Profile, dgis: list[DGI],
                                         cipher_block: int) -> None:
    def encrypt(value: bytes) -> bytes:
        return bytes(len(pad_method2(value, cipher_block)))

    app = AppPlan(profile.applications[0], tuple(dgis))
    built = apdus.store_data(dgis, encrypt=encrypt)
    assert store_data_blocks(app, cipher_block) == len(built)
