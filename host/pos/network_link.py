"""A :class:`~host.pos.link.BackOfficeLink` over the network: ISO 8583 to the service host.

:class:`NetworkLink` sends the issuer's authorisation as an 0100 and reads the 0110
(docs/iso8583.md), on one TCP connection kept open between requests, every message
MACed with the terminal's own key and every answer's MAC checked before anything in it is
believed. A request not answered within ``timeout`` is sent again on a new connection as
a repeat (0101) with the same STAN and DE 7: the service answers a repeat of a request it
already answered with that answer, and acts on it only once. When no attempt gets an
answer the link raises :class:`HostUnreachableError` (a :class:`ConnectionError`), so the
sale lets the card decide offline, as with any issuer out of reach. Sending a reversal
(0400) for an answer that was lost is not done yet.

The other requests of the link do not travel over ISO 8583 yet: they go to ``others``
(e.g. the in-process link, for points and uploads) when one is given, else they raise
:class:`NotOverISO8583Error`.

The STAN counter (:class:`StanCounter`) starts from the clock's seconds unless told
where: a terminal that keeps its counter across restarts should pass its own.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from apdu_specs.commands.purse_data import Purse
from apdu_specs.errors import LocalError, RemoteError
from apdu_specs.magstripe.tracks import Track2
from apdu_specs.payment.script import AFTER_SECOND_AC, BEFORE_SECOND_AC, decode_scripts
from apdu_specs.tlv import encode_tlvs, parse_tlvs
from host.payment.errors import ARQCError, RequestMismatchError
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse
from host.payment.perso import CDOL1
from host.points.load_host import LoadAuthorization
from host.points.messages import LoadInit
from host.points.records import PurseRecord
from host.records.batch import PurseRecord as BatchPurseRecord
from host.records.batch import SaleClaim, TerminalBatch
from host.service.errors import MessageFormatError, ServiceError
from host.service.iso8583 import (
    MTI,
    Message,
    NetworkCode,
    ResponseCode,
    decode,
    frame,
    frame_length,
    response_mti,
)
from host.service.mac import mac_key, sign, verify
from host.service.messages import (
    Envelope,
    authorisation_request,
    decision_of,
    network_request,
)

from .errors import POSError
from .link import (
    BackOfficeLink,
    EarnQuote,
    OnlineAnswer,
    PaymentMethod,
    RedemptionReceipt,
    StripeDecision,
    UploadReceipt,
)
from .merchant import MerchantIdentity

__all__ = [
    "AnswerNotAuthenticatedError",
    "HostUnreachableError",
    "NetworkLink",
    "NotOverISO8583Error",
    "ServiceRefusedError",
    "StanCounter",
]

_STAN_MAX = 999_999


class NotOverISO8583Error(POSError, LocalError):
    """A request the network link cannot send over ISO 8583 yet (and it has no ``others``)."""


class HostUnreachableError(POSError, RemoteError, ConnectionError):
    """No attempt got an answer: the issuer is out of reach (the card may decide offline)."""


class AnswerNotAuthenticatedError(POSError, RemoteError):
    """An answer whose MAC is missing or wrong: nothing in it is believed."""


class ServiceRefusedError(POSError, RemoteError):
    """The service refused the request (``code``, DE 39) before any issuer decided on it."""

    def __init__(self, code: str, *, authenticated: bool) -> None:
        self.code = code
        self.authenticated = authenticated
        try:
            meaning = ResponseCode(code).name.lower().replace("_", " ")
        except ValueError:
            meaning = "unknown response code"
        note = "" if authenticated else " (answer without a valid MAC)"
        super().__init__(f"the service refused the request: {code} {meaning}{note}")


class StanCounter:
    """STANs 1..999999, in turn; the first is ``start`` (default: from the clock)."""

    def __init__(self, start: int | None = None) -> None:
        self._next = (start if start is not None else int(time.time())) % _STAN_MAX or 1

    def __call__(self) -> int:
        stan = self._next
        self._next = stan % _STAN_MAX + 1
        return stan


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class NetworkLink:
    """The terminal's link to the service host at ``host``:``port`` (see the module)."""

    def __init__(self, host: str, port: int, *, merchant: MerchantIdentity, key: bytes,
                 timeout: float = 5.0, attempts: int = 3, cdol1: bytes = CDOL1,
                 others: BackOfficeLink | None = None,
                 clock: Callable[[], dt.datetime] = _utc_now,
                 stan: Callable[[], int] | None = None) -> None:
        self.address = (host, port)
        self.merchant = merchant
        self._key = mac_key(key)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.cdol1 = cdol1
        self.others = others
        self._clock = clock
        self._stan = stan or StanCounter()
        self._socket: socket.socket | None = None

    def __repr__(self) -> str:
        return (f"NetworkLink({self.address[0]}:{self.address[1]}, terminal "
                f"{self.merchant.terminal_hex})")

    def __enter__(self) -> NetworkLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    # -- what travels over ISO 8583 ------------------------------------------------------------

    def authorise(self, request: AuthorisationRequest, *, card_id: str,
                  method: PaymentMethod) -> OnlineAnswer:
        envelope = self._envelope()
        message = authorisation_request(request, card_id=card_id, method=method,
                                        envelope=envelope, cdol1=self.cdol1)
        reply = self._exchange(message, repeat=MTI.AUTHORISATION_REPEAT)
        return OnlineAnswer(_issuer_answer(reply))

    def sign_on(self) -> None:
        """0800 sign-on: the service knows this terminal and its key (else it refuses)."""
        self._network(NetworkCode.SIGN_ON)

    def echo(self) -> None:
        """0800 echo test: the service answers, with a MAC this terminal's key checks."""
        self._network(NetworkCode.ECHO)

    def sign_off(self) -> None:
        """0800 sign-off, then the connection is closed."""
        try:
            self._network(NetworkCode.SIGN_OFF)
        finally:
            self.close()

    def _network(self, code: NetworkCode) -> None:
        reply = self._exchange(network_request(code, self._envelope()), repeat=None)
        if reply["39"] != ResponseCode.APPROVED:
            raise ServiceRefusedError(reply["39"], authenticated=True)

    def _envelope(self) -> Envelope:
        return Envelope(self.merchant.terminal_hex, self.merchant.merchant_id, self._stan(),
                        self._clock())

    # -- the exchange ----------------------------------------------------------------------------

    def _exchange(self, message: Message, *, repeat: str | None) -> Message:
        """Send ``message`` until answered; a retry is ``repeat`` with the same STAN and
        DE 7 (or, for an idempotent message, the same message afresh)."""
        failure: Exception | None = None
        for attempt in range(self.attempts):
            if attempt and repeat is None:
                message = {**message, **self._envelope().fields()}
            sent = message if attempt == 0 or repeat is None else {**message, "t": repeat}
            try:
                reply = self._checked(self._round_trip(sign(sent, self._key)), message)
            except (OSError, ServiceError) as exc:
                self.close()  # a late answer must not be read as the next request's
                failure = exc
                continue
            return reply
        raise HostUnreachableError(f"no answer from {self.address[0]}:{self.address[1]} after "
                                   f"{self.attempts} attempts: {failure}")

    def _round_trip(self, raw: bytes) -> bytes:
        if self._socket is None:
            self._socket = socket.create_connection(self.address, timeout=self.timeout)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.sendall(frame(raw))
        return self._receive(frame_length(self._receive(2)))

    def _receive(self, count: int) -> bytes:
        assert self._socket is not None
        data = bytearray()
        while len(data) < count:
            chunk = self._socket.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the service closed the connection")
            data += chunk
        return bytes(data)

    def _checked(self, raw: bytes, request: Message) -> Message:
        """The answer, once it is the answer to ``request`` and its MAC verifies."""
        reply = decode(raw)
        if reply.get("t") != response_mti(request["t"]) or "39" not in reply:
            raise MessageFormatError(f"answer of type {reply.get('t')} to a {request['t']}")
        try:
            authentic = verify(raw, reply, self._key)
        except MessageFormatError:
            authentic = False
        if not authentic:
            if decision_of(reply["39"]) is not None:
                raise AnswerNotAuthenticatedError("an issuer's answer without a valid MAC")
            raise ServiceRefusedError(reply["39"], authenticated=False)
        if (reply.get("11"), reply.get("41")) != (request["11"], request["41"]):
            raise MessageFormatError("the answer is to another STAN or terminal")
        return reply

    # -- the rest of the link ------------------------------------------------------------------

    def _other(self) -> BackOfficeLink:
        if self.others is None:
            raise NotOverISO8583Error("not available over ISO 8583 yet (no other link given)")
        return self.others

    def scripts_delivered(self, script_ids: Sequence[str], *, at: dt.datetime) -> None:
        self._other().scripts_delivered(script_ids, at=at)

    def authorise_stripe(self, track2: Track2, amount: int, *,
                         card_id: str | None = None) -> StripeDecision:
        return self._other().authorise_stripe(track2, amount, card_id=card_id)

    def earn_quotes(self, *, merchant_id: str, card_id: str, method: PaymentMethod | None,
                    purchase_fen: int, at: dt.datetime) -> list[EarnQuote]:
        return self._other().earn_quotes(merchant_id=merchant_id, card_id=card_id,
                                         method=method, purchase_fen=purchase_fen, at=at)

    def load_key_index(self, card_id: str, purse: Purse) -> int:
        return self._other().load_key_index(card_id, purse)

    def authorize_load(self, card_id: str, init: LoadInit, when: dt.datetime, *,
                       sale: SaleClaim) -> LoadAuthorization:
        return self._other().authorize_load(card_id, init, when, sale=sale)

    def confirm_load(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord:
        return self._other().confirm_load(authorization, tac)

    def redeem(self, *, redemption_id: str, card_id: str, purse: Purse, points: int,
               at: dt.datetime, debit: BatchPurseRecord, insurer_id: str | None = None,
               policy: str | None = None) -> RedemptionReceipt:
        return self._other().redeem(redemption_id=redemption_id, card_id=card_id, purse=purse,
                                    points=points, at=at, debit=debit, insurer_id=insurer_id,
                                    policy=policy)

    def upload(self, batch: TerminalBatch, *, at: dt.datetime) -> UploadReceipt:
        return self._other().upload(batch, at=at)


def _issuer_answer(reply: Mapping[str, Any]) -> AuthorisationResponse:
    """The issuer's answer an authenticated 0110 carries; refusals raise what the sale
    expects (an ARQC that does not verify: :class:`ARQCError`)."""
    code = reply["39"]
    decision = decision_of(code)
    if decision is None:
        if code == ResponseCode.CRYPTOGRAPHIC_FAILURE:
            raise ARQCError("the issuer could not verify the ARQC (response code 88)")
        if code == ResponseCode.INVALID_AMOUNT:
            raise RequestMismatchError("the amount or currency differ from what the "
                                       "cryptogram covers (response code 13)")
        raise ServiceRefusedError(code, authenticated=True)
    try:
        objects = parse_tlvs(bytes(reply.get("55", b"")))
        issuer_data = next(o.value for o in objects if o.tag == 0x91)
        scripts = decode_scripts(encode_tlvs(
            [o for o in objects if o.tag in (BEFORE_SECOND_AC, AFTER_SECOND_AC)]))
    except (ValueError, StopIteration) as exc:
        raise MessageFormatError(f"the answer's DE 55 is not the issuer's: {exc}") from None
    return AuthorisationResponse(decision, code.encode("ascii"), issuer_data, tuple(scripts))
