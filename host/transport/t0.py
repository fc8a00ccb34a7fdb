"""GET RESPONSE (61xx) and wrong-Le (6Cxx) handling, once, above every transport.

Neither pcscd nor vpcd completes these exchanges (vpcd reports T=1 and passes
status words through; domain-facts §1.2), so the host does it: on ``6Cxx`` the
same command is sent again with Le = xx, and on ``61xx`` GET RESPONSE
(``00 C0 00 00 xx``) is sent until the card stops answering 61xx. The data of
every step is concatenated in front of the final status word.
"""

from __future__ import annotations

from apdu_specs.apdu import CommandAPDU
from host.transport.base import Transport, TransportFailure, TransportWrapper

__all__ = ["DEFAULT_MAX_GET_RESPONSE", "T0Transport", "get_response_command"]

DEFAULT_MAX_GET_RESPONSE = 256  # 256 x 256 bytes covers the largest extended response
_INS_GET_RESPONSE = 0xC0


def get_response_command(cla: int, length: int) -> bytes:
    """GET RESPONSE for ``length`` bytes (0 = 256) on the logical channel of ``cla``.

    GET RESPONSE is an interindustry command: it keeps only the channel bits of
    the original class byte and drops secure-messaging and chaining bits.
    """
    if (cla & 0xC0) == 0x40:  # further interindustry class, channels 4..19
        out_cla = 0x40 | (cla & 0x0F)
    else:
        out_cla = cla & 0x03
    return bytes((out_cla, _INS_GET_RESPONSE, 0x00, 0x00, length & 0xFF))


class T0Transport(TransportWrapper):
    """Wraps any transport so callers only ever see complete responses."""

    def __init__(self, inner: Transport, *, max_get_response: int = DEFAULT_MAX_GET_RESPONSE):
        super().__init__(inner)
        self.max_get_response = max_get_response

    def transmit(self, apdu: bytes) -> bytes:
        response = self._send(apdu)
        sw1 = response[-2]
        if sw1 != 0x61 and sw1 != 0x6C:
            return response  # the common case: one exchange, nothing to complete
        if sw1 == 0x6C:
            response = self._fix_le(apdu, response)
            if response[-2] != 0x61:
                return response
        data = bytearray()
        for _ in range(self.max_get_response):
            data += response[:-2]
            response = self._send_fixing_le(get_response_command(apdu[0], response[-1]))
            if response[-2] != 0x61:
                return bytes(data) + response
        raise TransportFailure(
            f"card still answered 61xx after {self.max_get_response} GET RESPONSE commands"
        )

    def _send_fixing_le(self, apdu: bytes) -> bytes:
        response = self._send(apdu)
        if response[-2] != 0x6C:
            return response
        return self._fix_le(apdu, response)

    def _fix_le(self, apdu: bytes, response: bytes) -> bytes:
        """Send ``apdu`` again with the Le its 6Cxx ``response`` asked for."""
        try:
            retry = CommandAPDU.parse(apdu).replace(ne=response[-1] or 256).encode()
        except ValueError:
            return response  # malformed command: let the caller see the 6Cxx
        return self._send(retry)

    def _send(self, apdu: bytes) -> bytes:
        response = self.inner.transmit(apdu)
        if len(response) < 2:
            raise TransportFailure(
                f"response to {bytes(apdu).hex().upper()} has {len(response)} bytes, "
                "too short for a status word"
            )
        return response
