"""Shared pieces of the GP tests: cards, clients, raw exchanges."""

from __future__ import annotations

from apdu_specs.hexutil import parse_hex
from host.gp import ChannelOptions, GPClient, parse_key_spec
from host.transport.base import Transport, TransportWrapper
from host.transport.sim import SimTransport
from host.transport.t0 import T0Transport
from simulator.blank import new_blank_card
from simulator.card import SimulatedCard
from simulator.runtime import ChipRuntime

ISD = bytes.fromhex("A000000151000000")


class Recorder(TransportWrapper):
    """A transport wrapper that keeps every exchange."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner)
        self.log: list[tuple[bytes, bytes]] = []

    def transmit(self, apdu: bytes) -> bytes:
        response = self.inner.transmit(apdu)
        self.log.append((bytes(apdu), response))
        return response


def transport(card: SimulatedCard, chip: int = 1) -> Recorder:
    t = Recorder(T0Transport(SimTransport(card.runtime(chip))))
    t.connect()
    return t


def client(card: SimulatedCard, chip: int = 1, *, keys: str | None = "default",
           level: int = 0x01, **options: object) -> GPClient:
    """A client on the ISD; with ``keys`` a secure channel is open."""
    c = GPClient(transport(card, chip))
    c.select()
    if keys is not None:
        c.open_secure_channel(parse_key_spec(keys), ChannelOptions(level=level, **options))
    return c


def blank(identity: str = "test", **kw: object) -> SimulatedCard:
    return new_blank_card(identity, **kw)  # type: ignore[arg-type]


def tx(rt: ChipRuntime, apdu: str | bytes) -> tuple[bytes, int]:
    raw = parse_hex(apdu) if isinstance(apdu, str) else apdu
    out = rt.transmit(raw)
    return out[:-2], int.from_bytes(out[-2:], "big")


def sw_of(response: bytes) -> int:
    return int.from_bytes(response[-2:], "big")
