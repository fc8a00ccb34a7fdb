"""Cases that need a GlobalPlatform secure channel run through one opened with the card's keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from host.gp import ChannelOptions, GPClient, KeySpec, SecureChannel, run_flow, secure_channel_flow
from host.gp.client import CardStates
from host.transport.base import Transport, TransportWrapper

from .applications import Target

__all__ = ["SecureChannelTransport", "gp_secure_opener", "gp_terminator"]

#: C-MAC only: responses stay readable, so a case sees the card's own status word
DEFAULT_OPTIONS = ChannelOptions(level=0x01)


class SecureChannelTransport(TransportWrapper):
    """Protects every command with an open secure channel and unwraps every answer."""

    def __init__(self, inner: Transport, channel: SecureChannel) -> None:
        super().__init__(inner)
        self.channel = channel

    def transmit(self, apdu: bytes) -> bytes:
        return self.channel.unwrap(self.inner.transmit(self.channel.wrap(apdu)))


def gp_secure_opener(keys: KeySpec, options: ChannelOptions = DEFAULT_OPTIONS):  # type: ignore[no-untyped-def]
    """A ``SecureOpener`` for the conformance suite: SCP02/SCP03 with ``keys``."""

    def open_channel(transport: Transport, target: Target) -> Transport:
        channel = run_flow(transport.transmit, secure_channel_flow(keys, options))
        return SecureChannelTransport(transport, channel)

    return open_channel


def gp_terminator(transports: Mapping[int, Transport], keys: KeySpec,
                  options: ChannelOptions = DEFAULT_OPTIONS) -> Callable[[int], None]:
    """A ``Terminator``: SET STATUS (card) TERMINATED through the chip's ISD. Irreversible."""

    def terminate(chip: int) -> None:
        client = GPClient(transports[chip])
        client.select()
        client.open_secure_channel(keys, options)
        client.set_card_status(CardStates.TERMINATED)

    return terminate
