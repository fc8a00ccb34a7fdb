"""A :class:`~host.pos.link.BackOfficeLink` over the network: ISO 8583 and HTTP to the service host.

:class:`NetworkLink` sends the issuer's authorisation as an 0100 and reads the 0110
(docs/iso8583.md), on one TCP connection kept open between requests, every message
MACed with the terminal's own key and every answer's MAC checked before anything in it is
believed. A request not answered within ``timeout`` is sent again on a new connection as
a repeat (0101) with the same STAN and DE 7: the service answers a repeat of a request it
already answered with that answer, and acts on it only once. When no attempt gets an
answer the link raises :class:`HostUnreachableError` (a :class:`ConnectionError`), so the
sale lets the card decide offline, as with any issuer out of reach. When the request was
sent at least once (the service may have approved it and held the amount), or the answer
came without a valid MAC, the link first queues a reversal (0400) of it in its
store-and-forward queue (:mod:`.saf`) and tries it once: the service releases the hold,
or, if the reversal overtakes a delayed authorisation, refuses that authorisation when it
arrives. Advices of sales the card approved offline (:meth:`NetworkLink.advise_offline_sale`)
and the outcomes of issuer scripts (:meth:`NetworkLink.report_scripts`, 0220) go through
the same queue. The queue is forwarded in order after every authorisation the service
answers, and by :meth:`NetworkLink.forward` (``dualcard pos saf flush``); each message
keeps its STAN and DE 7, and the service acts on each once.

The link's other requests (points, loads, redemptions, uploads and stripe authorisations;
the issuer's scripts are confirmed by an advice over ISO 8583) go to the service's
HTTP/JSON door at ``http`` (a base URL, ``http://127.0.0.1:8080``): each one signed with
the same key (:mod:`host.service.http_auth`), under an idempotency key that every retry
repeats, so the service acts on it once; each answer's MAC is checked before anything in
it is believed. A request that gets no answer, a 503 or a 500, or a "being handled" 409,
is retried (``attempts`` in all, a short pause between them), then
:class:`HostUnreachableError`. What the back office refuses raises what the in-process
link raises: :class:`~host.records.errors.BatchRejectedError` with its rejections,
:class:`~host.points.errors.PurseMACError`, :class:`~host.records.errors.NotFoundError`,
and :class:`BackOfficeRefusedError` (a :class:`~host.records.errors.BackOfficeError`) for
a refused load or redemption. Without ``http`` they go to ``others`` (an in-process link,
say) when one is given, else they raise :class:`NotOverISO8583Error`.

Given ``tls`` (:func:`host.service.tls.client_context`: the alliance CA, and for mutual
TLS the terminal's certificate), both doors are reached over TLS: the host's certificate
must be the alliance CA's and name the host dialled (``host``, the HTTP URL's host), else
:class:`~host.service.tls.HostCertificateError`; a host that refuses the terminal's
certificate raises :class:`~host.service.tls.CertificateRefusedError`. Neither is retried
nor taken for an unreachable host: the link is misconfigured or someone is in the way.

The STAN counter (:class:`StanCounter`) starts from the clock's seconds unless told
where: a terminal keeps its counter across restarts with
:class:`~host.pos.stan.PersistentStanCounter` (its configuration's
:meth:`~host.pos.config.TerminalConfig.open_stan_counter`).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from apdu_specs.commands.purse_data import Purse
from apdu_specs.documents import DocumentError
from apdu_specs.errors import LocalError, RemoteError
from apdu_specs.magstripe.tracks import Track2
from apdu_specs.payment.script import AFTER_SECOND_AC, BEFORE_SECOND_AC, decode_scripts
from apdu_specs.tlv import encode_tlvs, parse_tlvs
from host.payment.errors import ARQCError, RequestMismatchError
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse
from host.payment.perso import CDOL1
from host.points.errors import PurseMACError
from host.points.load_host import LoadAuthorization
from host.points.messages import LoadInit
from host.points.records import PurseRecord
from host.records.batch import PurseRecord as BatchPurseRecord
from host.records.batch import SaleClaim, TerminalBatch
from host.records.errors import BackOfficeError, BatchRejectedError, NotFoundError, RecordRejection
from host.service import api, http_auth
from host.service.api import Fields
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
from host.service.reversals import (
    ScriptOutcomeRecord,
    reversal_request,
    script_advice,
    script_ids_of,
)
from host.service.tls import tls_failure

from .errors import POSError
from .link import (
    BackOfficeLink,
    EarnQuote,
    OnlineAnswer,
    PaymentMethod,
    PrepaidLink,
    PrepaidPayment,
    RedemptionReceipt,
    StripeDecision,
    UploadReceipt,
)
from .merchant import MerchantIdentity
from .saf import StoreAndForward
from .stan import STAN_MAX

__all__ = [
    "AnswerNotAuthenticatedError",
    "BackOfficeRefusedError",
    "HTTPBackOffice",
    "HTTPRefusedError",
    "HostUnreachableError",
    "NetworkLink",
    "NotOverISO8583Error",
    "ServiceRefusedError",
    "StanCounter",
]

_STAN_MAX = STAN_MAX
#: how a queued message is sent again when its first attempt got no answer
_REPEATS: dict[str, str] = {MTI.REVERSAL: MTI.REVERSAL_REPEAT, MTI.ADVICE: MTI.ADVICE_REPEAT}


class NotOverISO8583Error(POSError, LocalError):
    """A request the network link cannot send over ISO 8583, and it was given neither an
    HTTP door nor ``others``."""


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


class HTTPRefusedError(POSError, RemoteError):
    """The HTTP door refused the request (``status``, ``code``; ``field`` names the field
    at fault): not authenticated, not this terminal's to ask, or not well formed."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status, self.code, self.field = status, code, field
        super().__init__(f"the service refused the request: {status} {code}: {message}")


class BackOfficeRefusedError(BackOfficeError, RemoteError):
    """The back office refused a load, a redemption or an upload through the HTTP door;
    ``kind`` is its own name for the refusal (``LoadRefusedError``)."""

    def __init__(self, message: str, *, code: str, kind: str = "") -> None:
        self.code, self.kind = code, kind
        super().__init__(message)


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
                 others: BackOfficeLink | None = None, http: str | None = None,
                 clock: Callable[[], dt.datetime] = _utc_now,
                 stan: Callable[[], int] | None = None,
                 saf: StoreAndForward | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.address = (host, port)
        #: TLS to both doors (None: plain TCP, and the HTTP URL's own scheme)
        self.tls = tls
        self.merchant = merchant
        self._key = mac_key(key)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.cdol1 = cdol1
        self.others = others
        self._clock = clock
        self._stan = stan or StanCounter()
        self._socket: socket.socket | None = None
        #: reversals and advices until the service has them (in memory unless given a file)
        self.saf = saf if saf is not None else StoreAndForward()
        self._sent = False  #: whether the current request left this terminal at least once
        self._reachable = True  #: whether the last exchange was answered
        #: the last approved 0100s by ARQC, to reverse if the card then declines
        self._approved: dict[bytes, Message] = {}
        #: the HTTP door's side of the link (None: the other requests go to ``others``)
        self.http = None if http is None else HTTPBackOffice(
            http, terminal_id=merchant.terminal_hex, key=self._key, timeout=timeout,
            attempts=self.attempts, clock=clock, tls=tls)

    def __repr__(self) -> str:
        return (f"NetworkLink({self.address[0]}:{self.address[1]}, terminal "
                f"{self.merchant.terminal_hex})")

    def __enter__(self) -> NetworkLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def tls_version(self) -> str | None:
        """The TLS version of the open ISO 8583 connection (None: plain, or none open)."""
        return self._socket.version() if isinstance(self._socket, ssl.SSLSocket) else None

    def close(self) -> None:
        """Close the connections (the next request opens a new one)."""
        if self.http is not None:
            self.http.close()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    # -- what travels over ISO 8583 ------------------------------------------------------------

    def authorise(self, request: AuthorisationRequest, *, card_id: str,
                  method: PaymentMethod) -> OnlineAnswer:
        envelope = self._envelope()
        message = authorisation_request(request, card_id=card_id, method=method,
                                        envelope=envelope, cdol1=self.cdol1)
        self._sent = False
        try:
            reply = self._exchange(message, repeat=MTI.AUTHORISATION_REPEAT)
            answer = OnlineAnswer(_issuer_answer(reply), script_ids_of(reply))
        except (HostUnreachableError, AnswerNotAuthenticatedError, MessageFormatError):
            if self._sent:  # it may have been approved, and the amount held: undo it
                self._queue("reversal", reversal_request(message, self._envelope()), tries=1)
            raise
        if answer.response.approved:
            self._approved = {**dict(list(self._approved.items())[-15:]), request.arqc: message}
        self.forward()  # the service answers: what waited for it goes now
        return answer

    def reverse_authorisation(self, request: AuthorisationRequest) -> None:
        """The card declined what the issuer approved (or refused its ARPC): queue the
        reversal of that 0100, and try it once."""
        message = self._approved.pop(request.arqc, None)
        if message is not None:
            self._queue("reversal", reversal_request(message, self._envelope()), tries=1)

    # -- store and forward -----------------------------------------------------------------------

    def advise_offline_sale(self, request: AuthorisationRequest, *, card_id: str,
                            method: PaymentMethod) -> None:
        """Tell the service (0220) of a sale the card approved offline; ``request`` holds
        the first GENERATE AC's cryptogram and what it covers."""
        message = authorisation_request(request, card_id=card_id, method=method,
                                        envelope=self._envelope(), cdol1=self.cdol1)
        self._queue("advice", {**message, "t": MTI.ADVICE})

    def report_scripts(self, outcomes: Sequence[ScriptOutcomeRecord]) -> None:
        """Tell the service (0220) which issuer scripts the card ran and which it refused."""
        if outcomes:
            self._queue("scripts", script_advice(outcomes, self._envelope()))

    def forward(self, *, tries: int | None = None) -> int:
        """Send the queue in order until one gets no answer; how many the service took. A
        message the service refuses with its MAC is kept, marked refused, and skipped (one
        refused as a duplicate stays pending: its STAN is live for another request, and
        will not be once the replay window has passed)."""
        taken = 0
        for entry in self.saf.pending():
            try:
                reply = self._exchange(entry.message, repeat=_REPEATS[entry.mti], tries=tries)
            except (HostUnreachableError, AnswerNotAuthenticatedError,
                    ServiceRefusedError) as exc:
                self.saf.failed(entry.seq, str(exc))
                break
            if reply["39"] != ResponseCode.APPROVED:  # 94: its STAN is another's for now
                self.saf.failed(entry.seq, f"refused: response code {reply['39']}",
                                refused=reply["39"] != ResponseCode.DUPLICATE)
                continue
            self.saf.sent(entry.seq)
            taken += 1
        return taken

    def _queue(self, kind: str, message: Message, *, tries: int | None = None) -> None:
        """Write ``message`` to the queue first, then forward it if the service answers."""
        self.saf.put(kind, message, at=self._clock())
        if self._reachable or tries is not None:
            self.forward(tries=tries)

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

    def _exchange(self, message: Message, *, repeat: str | None,
                  tries: int | None = None) -> Message:
        """Send ``message`` until answered (``tries`` times at most, else ``attempts``); a
        retry is ``repeat`` with the same STAN and DE 7 (or, for an idempotent message, the
        same message afresh)."""
        failure: Exception | None = None
        attempts = self.attempts if tries is None else tries
        for attempt in range(attempts):
            if attempt and repeat is None:
                message = {**message, **self._envelope().fields()}
            sent = message if attempt == 0 or repeat is None else {**message, "t": repeat}
            try:
                reply = self._checked(self._round_trip(sign(sent, self._key)), message)
            except (OSError, ServiceError) as exc:
                self.close()  # a late answer must not be read as the next request's
                refused = tls_failure(exc, f"{self.address[0]}:{self.address[1]}")
                if refused is not None:
                    raise refused from None
                failure = exc
                continue
            self._reachable = True
            return reply
        self._reachable = False
        raise HostUnreachableError(f"no answer from {self.address[0]}:{self.address[1]} after "
                                   f"{attempts} attempts: {failure}")

    def _round_trip(self, raw: bytes) -> bytes:
        if self._socket is None:
            self._socket = self._connect()
        self._socket.sendall(frame(raw))
        self._sent = True
        return self._receive(frame_length(self._receive(2)))

    def _connect(self) -> socket.socket:
        """A new connection to the ISO 8583 door, TLS handshake done when ``tls``."""
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is None:
            return sock
        try:
            return self.tls.wrap_socket(sock, server_hostname=self.address[0])
        except BaseException:
            sock.close()
            raise

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

    # -- what travels over HTTP (or to the other link) --------------------------------------------

    def _other(self) -> HTTPBackOffice | BackOfficeLink:
        if self.http is not None:
            return self.http
        if self.others is None:
            raise NotOverISO8583Error("not available over ISO 8583, and the link has no HTTP "
                                      "door nor other link")
        return self.others

    def scripts_delivered(self, script_ids: Sequence[str], *, at: dt.datetime) -> None:
        """Over ISO 8583: an advice of the scripts the card ran (:meth:`report_scripts`)."""
        self.report_scripts([ScriptOutcomeRecord(script_id, True) for script_id in script_ids])

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

    def pay_prepaid(self, *, request_id: str, card_id: str, amount: int, merchant_id: str,
                    program: str | None = None) -> PrepaidPayment:
        other = self._other()
        if not isinstance(other, PrepaidLink):
            raise NotOverISO8583Error(f"{other!r} takes no prepaid payments")
        return other.pay_prepaid(request_id=request_id, card_id=card_id, amount=amount,
                                 merchant_id=merchant_id, program=program)


class HTTPBackOffice:
    """Every request of the link but ``authorise``, over the service's HTTP/JSON door
    (module docstring), and the door's two queries."""

    def __init__(self, base_url: str, *, terminal_id: str, key: bytes, timeout: float = 5.0,
                 attempts: int = 3, clock: Callable[[], dt.datetime] = _utc_now,
                 pause: float = 0.2, tls: ssl.SSLContext | None = None) -> None:
        self.door = _HTTPDoor(base_url, terminal_id=terminal_id, key=mac_key(key),
                              timeout=timeout, attempts=max(1, attempts), clock=clock,
                              pause=pause, tls=tls)

    def __repr__(self) -> str:
        return f"HTTPBackOffice({self.door.base_url}, terminal {self.door.terminal_id})"

    def close(self) -> None:
        self.door.close()

    def scripts_delivered(self, script_ids: Sequence[str], *, at: dt.datetime) -> None:
        self.door.call("POST", "/v1/scripts/delivered",
                       {"script_ids": list(script_ids), "at": at.isoformat()})

    def authorise_stripe(self, track2: Track2, amount: int, *,
                         card_id: str | None = None) -> StripeDecision:
        doc = self.door.call("POST", "/v1/stripe-authorisations",
                             {"track2": track2.encode(), "amount": amount, "card_id": card_id})
        return api.stripe_decision_of(Fields(doc))

    def earn_quotes(self, *, merchant_id: str, card_id: str, method: PaymentMethod | None,
                    purchase_fen: int, at: dt.datetime) -> list[EarnQuote]:
        doc = self.door.call("POST", "/v1/earn-quotes", {
            "merchant_id": merchant_id, "card_id": card_id,
            "method": None if method is None else method.value, "purchase_fen": purchase_fen,
            "at": at.isoformat()})
        f = Fields(doc)
        return [api.quote_of(Fields(q, f"quotes[{i}]")) for i, q in enumerate(f.items("quotes"))]

    def load_key_index(self, card_id: str, purse: Purse) -> int:
        doc = self.door.call("GET", f"/v1/cards/{_segment(card_id)}/purses/"
                                    f"{Purse(purse).label}/load-key-index")
        return Fields(doc).integer("key_index", 0, 0xFF)

    def authorize_load(self, card_id: str, init: LoadInit, when: dt.datetime, *,
                       sale: SaleClaim) -> LoadAuthorization:
        doc = self.door.call("POST", "/v1/loads", {
            "card_id": card_id, "init": api.load_init_to_json(init), "when": when.isoformat(),
            "sale": api.sale_to_json(sale)})
        return LoadAuthorization(card_id, init, when, Fields(doc).hexbytes("mac2", 4))

    def confirm_load(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord:
        """The load's record, once the service found the TAC genuine."""
        self.door.call("POST", "/v1/loads/confirmations", {
            "authorization": api.authorization_to_json(authorization), "tac": tac.hex().upper()})
        return authorization.record(tac)

    def redeem(self, *, redemption_id: str, card_id: str, purse: Purse, points: int,
               at: dt.datetime, debit: BatchPurseRecord, insurer_id: str | None = None,
               policy: str | None = None) -> RedemptionReceipt:
        doc = self.door.call("POST", "/v1/redemptions", {
            "redemption_id": redemption_id, "card_id": card_id, "purse": Purse(purse).label,
            "points": points, "at": at.isoformat(), "debit": api.record_to_dict(debit),
            "insurer_id": insurer_id, "policy": policy})
        return api.redemption_of(Fields(doc))

    def upload(self, batch: TerminalBatch, *, at: dt.datetime) -> UploadReceipt:
        doc = self.door.call("POST", "/v1/batches", batch.as_dict(),
                             query={"at": at.isoformat()})
        return api.upload_receipt_of(Fields(doc))

    def pay_prepaid(self, *, request_id: str, card_id: str, amount: int, merchant_id: str,
                    program: str | None = None) -> PrepaidPayment:
        """``POST /v1/prepaid/payments`` by the card; the merchant is the terminal's (the
        service answers for the authenticated terminal's merchant only)."""
        doc = self.door.call("POST", "/v1/prepaid/payments", {
            "request_id": request_id, "card_id": card_id, "amount": amount,
            **({"program": program} if program is not None else {})})
        try:
            return PrepaidPayment.from_answer(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageFormatError(f"the prepaid answer is not one: {exc!r}") from None

    def reverse(self, *, stan: int, sent_at: dt.datetime, amount: int,
                arqc: bytes | None = None) -> str:
        """Undo the authorisation this terminal sent over ISO 8583 under ``stan`` at
        ``sent_at`` (its DE 7): ``reversed``, ``already_reversed`` or
        ``nothing_to_reverse``; another terminal's raises :class:`HTTPRefusedError` (403)."""
        doc = self.door.call("POST", "/v1/reversals", {
            "stan": stan, "sent_at": sent_at.isoformat(), "amount": amount,
            **({"arqc": arqc.hex().upper()} if arqc is not None else {})})
        return str(Fields(doc).text("status"))

    # -- queries -----------------------------------------------------------------------------

    def balances(self, card_id: str) -> dict[Purse, int]:
        """The card's points as the ledger holds them (cleared), by purse."""
        doc = self.door.call("GET", f"/v1/cards/{_segment(card_id)}/balances")
        f = Fields(doc).obj("balances")
        return {purse: f.obj(purse.label).integer("posted", -(2**63), 2**63) for purse in Purse}

    def batch_status(self, batch_id: str) -> dict[str, Any] | None:
        """The back office's word on one of this terminal's batches (``status``: cleared,
        with its ``summary``, or rejected, with its ``rejections``); None if unknown."""
        try:
            return self.door.call("GET", f"/v1/batches/{_segment(batch_id)}")
        except NotFoundError:
            return None


def _segment(value: str) -> str:
    """``value`` as one path segment, percent-encoded."""
    return urllib.parse.quote(value, safe="")


class _HTTPDoor:
    """Signed JSON requests to the service's HTTP door, retried under one idempotency key."""

    def __init__(self, base_url: str, *, terminal_id: str, key: bytes, timeout: float,
                 attempts: int, clock: Callable[[], dt.datetime], pause: float = 0.2,
                 tls: ssl.SSLContext | None = None) -> None:
        self.terminal_id = terminal_id
        self.tls = tls
        self._key = key
        self.attempts = attempts
        self._clock = clock
        self.pause = pause
        self.base_url = base_url
        self.timeout = timeout
        self._open: httpx.Client | None = None

    @property
    def _client(self) -> httpx.Client:
        """The connection pool, opened again after :meth:`close`."""
        if self._open is None:
            # without TCP_NODELAY the body, sent after the headers, waits for their delayed
            # ACK: 40 ms a request on loopback
            transport = httpx.HTTPTransport(
                verify=self.tls if self.tls is not None else True,
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
            self._open = httpx.Client(base_url=self.base_url, timeout=self.timeout,
                                      transport=transport)
        return self._open

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def call(self, method: str, path: str, doc: Mapping[str, Any] | None = None, *,
             query: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The answer's JSON once its MAC verifies; a refusal raises what it means."""
        body = b"" if doc is None else json.dumps(doc, separators=(",", ":")).encode()
        key, failure = uuid.uuid4().hex, "no attempt"
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.pause * 2 ** (attempt - 1))
            request = self._client.build_request(
                method, path, params=query, content=body,
                headers={"Content-Type": "application/json"} if body else None)
            signed = http_auth.Signed(method, request.url.raw_path.decode("ascii"),
                                      self.terminal_id,
                                      http_auth.format_timestamp(self._clock()), key)
            request.headers.update(http_auth.request_headers(self._key, signed, body))
            try:
                response = self._client.send(request)
            except httpx.TransportError as exc:
                refused = tls_failure(exc, self.base_url)
                if refused is not None:
                    raise refused from None
                failure = f"{type(exc).__name__}: {exc}"
                continue
            answer = self._answer(response, signed)
            if answer is not None:
                return answer
            failure = f"{response.status_code} {response.text[:200]}"
        raise HostUnreachableError(f"no answer from {self._client.base_url} after "
                                   f"{self.attempts} attempts: {failure}")

    def _answer(self, response: httpx.Response, signed: http_auth.Signed) -> dict[str, Any] | None:
        """The answer's JSON, or None: try again (the service could not answer now)."""
        status, body = response.status_code, response.content
        authentic = http_auth.mac_matches(
            http_auth.response_mac(self._key, signed, status, body),
            response.headers.get(http_auth.MAC, ""))
        try:
            doc = api.json_body(body, "the service's answer")
        except DocumentError:
            doc = None
        error = _error_of(doc)
        if status >= 500 or (status == 409 and error.get("code") == "in_flight"):
            return None
        if not authentic:  # a refusal is reported as one, its details believed in nothing
            if status >= 400:
                raise HTTPRefusedError(status, str(error.get("code", "")),
                                       f"{error.get('message', '')} (answer without a valid MAC)")
            raise AnswerNotAuthenticatedError(f"an answer ({status}) without a valid MAC")
        if doc is None:
            raise AnswerNotAuthenticatedError(f"an answer ({status}) that is not a JSON object")
        if status >= 400:
            raise _refusal(status, error)
        return doc


def _error_of(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    error = (doc or {}).get("error")
    return error if isinstance(error, dict) else {}


def _refusal(status: int, error: Mapping[str, Any]) -> Exception:
    """What the in-process link would have raised for the service's refusal."""
    code, message = str(error.get("code", "")), str(error.get("message", ""))
    if code == "batch_rejected":
        rejections = [RecordRejection(str(r.get("record")), str(r.get("reason")))
                      for r in error.get("rejections", []) if isinstance(r, dict)]
        return BatchRejectedError(str(error.get("batch_id", "")), rejections)
    if code == "purse_mac":
        return PurseMACError(message)
    if code == "not_found":
        return NotFoundError(message)
    if code in ("refused", "id_reused"):
        return BackOfficeRefusedError(message, code=code, kind=str(error.get("type", "")))
    field = error.get("field")
    return HTTPRefusedError(status, code, message, str(field) if field is not None else None)


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
