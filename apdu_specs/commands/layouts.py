"""Reusable ``construct`` pieces for command layouts."""

from __future__ import annotations

from construct import Bytes, GreedyBytes, Int8ub, Prefixed

#: one-byte-length-prefixed bytes (GP INSTALL fields, PUT KEY blocks)
LV = Prefixed(Int8ub, GreedyBytes)
#: a raw data field with no inner structure
RAW = GreedyBytes


def fixed(n: int) -> Bytes:
    return Bytes(n)
