"""Transport wrappers for the wrong-Le (6Cxx) tests of both chips."""

from __future__ import annotations

from host.transport.base import Transport, TransportWrapper


class WrongLe(TransportWrapper):
    """A terminal that gets Le wrong: the next ``times`` commands with ``ins`` go out with ``le``.

    Put it above :class:`~host.transport.t0.T0Transport` to have the 6Cxx re-sent by the
    transport, or above the raw transport to see the 6Cxx and re-send by hand.
    """

    def __init__(self, inner: Transport, ins: int, le: int, times: int = 1) -> None:
        super().__init__(inner)
        self.ins, self.le, self.times = ins, le, times

    def transmit(self, apdu: bytes) -> bytes:
        if self.times and apdu[1] == self.ins:
            self.times -= 1
            apdu = bytes(apdu[:-1]) + bytes([self.le])  # case 4 short: the last byte is Le
        return self.inner.transmit(apdu)


class Exchanges(TransportWrapper):
    """(INS, SW) of every exchange that reaches the card."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner)
        self.seen: list[tuple[int, int]] = []

    def transmit(self, apdu: bytes) -> bytes:
        response = self.inner.transmit(apdu)
        self.seen.append((apdu[1], int.from_bytes(response[-2:], "big")))
        return response
