"""The GP commands built without the general layout builder equal the command specs' builds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.commands.globalplatform import INITIALIZE_UPDATE, PUT_KEY, STORE_DATA
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.keyset import StaticKeys
from host.gp import DGI, ChannelOptions, apdus
from host.gp.secure_channel import _init_update_apdu

_byte = st.integers(0, 0xFF)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=300), st.booleans()),
                min_size=1, max_size=6),
       st.integers(16, 239))
def test_store_data_blocks_equal_the_spec_build(items: list[tuple[int, bytes, bool]],
                                                block_size: int) -> None:
    dgis = [DGI(number, value, sensitive) for number, value, sensitive in items]
    blocks = apdus.store_data(dgis, encrypt=lambda v: v + b"\x80", block_size=block_size)
    for block in blocks:
        expected = STORE_DATA.build(control=block.p1, block=block.p2,
                                    data={"payload": block.data})
        assert block == expected
        assert block.encode() == expected.encode()


def test_store_data_block_longer_than_a_short_apdu_goes_through_the_spec() -> None:
    block = apdus.store_data([DGI(0x0101, bytes(400))], encrypt=bytes, block_size=1000)[0]
    assert block == STORE_DATA.build(control=0x88, block=0, data={"payload": block.data})
    assert block.is_extended


_entry = st.fixed_dictionaries({"type": _byte, "key": st.binary(max_size=40),
                                "kcv": st.binary(max_size=5)})


@settings(max_examples=80, deadline=None)
@given(_byte, _byte, st.lists(_entry, min_size=3, max_size=3))
def test_put_key_equals_the_spec_build(new_kvn: int, replace_kvn: int,
                                       entries: list[dict[str, object]]) -> None:
    keys = StaticKeys(bytes(16), bytes([1]) * 16, bytes([2]) * 16, Algorithm.AES)
    queue = iter(entries)
    built = apdus.put_key(keys, new_kvn, replace_kvn=replace_kvn, component=lambda _: next(queue))
    expected = PUT_KEY.build(old_key_version=replace_kvn, key_id=0x81,
                             data={"new_key_version": new_kvn, "keys": entries}, ne=256)
    assert built == expected
    assert built.encode() == expected.encode()


@settings(max_examples=60, deadline=None)
@given(_byte, st.integers(0, 3), st.binary(min_size=1, max_size=32))
def test_initialize_update_equals_the_spec_build(kvn: int, channel: int,
                                                 challenge: bytes) -> None:
    options = ChannelOptions(kvn=kvn, channel=channel)
    expected = INITIALIZE_UPDATE.build(key_version=kvn, data={"host_challenge": challenge},
                                       cla=options.cla)
    assert _init_update_apdu(challenge, options) == expected.encode()
