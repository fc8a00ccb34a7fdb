"""The service's request handlers, sans I/O: one message's bytes in, the answer's bytes out.

Theory of operation. The front door is the trust boundary (docs/trust.md): a message is
a claim until its MAC verifies under the key of the terminal it names. Each message goes
through these steps, and the first that fails answers it:

1. a frame whose first four bytes are not a request MTI is not an ISO 8583 request:
   :meth:`Connection.handle` returns None and the connection is closed;
2. decoding, then the envelope (DE 7, 11, 41, 42): response code 30, no MAC;
3. the terminal named by DE 41 has a key: else 58, no MAC; the MAC verifies under it:
   else 63, no MAC (a message nobody authenticated gets no MAC back either);
4. from here every answer carries a MAC. The connection serves one terminal (the one
   its mutual-TLS certificate names, else the first one authenticated on it): another
   one gets 58. DE 42 is the merchant the back office registered the terminal to: else 03;
5. DE 7 is within the replay window and the STAN is not live (:mod:`.replay`): else 94.
   A repeat (0101) of the request holding the STAN is let through, and answered from the
   issuer's own record when the issuer answered the original: the same decision and ARPC
   again, nothing recorded twice (the scripts stay pending for the card's next online
   transaction). When the original never reached the issuer (refused, or cut short by a
   crash) the repeat is handled as the original would have been. Reversals and advices
   (0400/0401, 0220/0221) are acted on once by their own records (:mod:`.holds`): their
   DE 7 is not held to the window (a terminal's store-and-forward queue sends them late)
   and a copy of the request holding the STAN is let through, to be answered the same;
6. the request is handled: a holder check (DE 3 ``300000``) by the authentication centre
   (:mod:`.holder_checks`); a purchase with an online PIN (DE 52) by the issuer only once
   the centre found the PIN right; an approved authorisation posts its hold, a reversal
   releases it (:mod:`.holds`), an advice is taken once.

An authorisation (not a holder check) is handled in one write transaction from step 5
on: the STAN, the issuer's record and the hold commit together, once, before the answer
is sent; an error in step 6 undoes step 6 alone (a savepoint: the STAN stays taken) and
answers its code; a transaction that fails to commit answers 96 and leaves nothing.
:meth:`ServiceCore.handle_many` commits the authorisations of several connections
together (group commit, what the ISO door does): each is then a savepoint of
the shared transaction, all or nothing as before, and none is answered before the one
commit; if that commit fails, each is handled again alone.

Refusals at steps 2–5 reach no issuer and post nothing. Nothing raises out of
:meth:`Connection.handle`: an unexpected error answers 96 (or, before a message is read,
closes the connection) and is logged by its type only.

Logs are structured (``logging`` records whose ``fields`` attribute is a dict): the MTI,
terminal, STAN, response code, duration and reason; never a PAN, a key, a MAC or a
cryptogram.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from host.backoffice.authorisations import (
    Authorisation,
    DuplicateAuthorisationError,
    authorisation_by_arqc,
)
from host.backoffice.group_postings import GroupPostings
from host.payment.errors import ARQCError, RequestMismatchError
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse, Decision
from host.records.errors import NotFoundError

from .auth_centre import HolderCheck
from .errors import MessageFormatError
from .holder_checks import (
    holder_check_answer,
    holder_check_of,
    is_holder_check,
    refuse_repeat,
)
from .holds import AuthorisationHolds, Reversal, ReversalRefusedError
from .iso8583 import MTI, Message, ResponseCode, decode, encode, is_request_mti, required
from .mac import MAC_LENGTH, sign, verify
from .messages import (
    Envelope,
    UnsupportedRequestError,
    answer,
    authorisation_answer,
    authorisation_call,
    envelope_of,
    network_code,
)
from .metrics import Metrics
from .replay import REVERSED_FIRST, ReplayGuard
from .reversals import (
    SCRIPT_RESULTS,
    ScriptOutcomeRecord,
    arqc_of,
    original_of,
    script_ids_field,
    script_outcomes_of,
)
from .services import AllianceServices
from .terminals import TerminalDirectory, TerminalKey

__all__ = ["LOGGER", "Connection", "ServiceCore"]

LOGGER = logging.getLogger("dualcard.service")

#: what a handler's errors answer; anything else is 96
_REFUSALS: tuple[tuple[type[Exception], ResponseCode], ...] = (
    (MessageFormatError, ResponseCode.FORMAT_ERROR),
    (UnsupportedRequestError, ResponseCode.INVALID_TRANSACTION),
    (ARQCError, ResponseCode.CRYPTOGRAPHIC_FAILURE),
    (RequestMismatchError, ResponseCode.INVALID_AMOUNT),
    (DuplicateAuthorisationError, ResponseCode.DUPLICATE),
)
#: requests acted on once by their own records (:mod:`.holds`), whatever their age: a copy
#: is let through and answered the same, and DE 7 may be older than the window (a
#: terminal's store-and-forward queue sends them when the service is back)
_ONCE_BY_RECORD = frozenset({MTI.REVERSAL, MTI.REVERSAL_REPEAT, MTI.ADVICE, MTI.ADVICE_REPEAT})
#: the first four bytes of a request that may share a transaction (:meth:`Connection.grouped`)
_GROUPED_MTIS = frozenset(m.encode("ascii") for m in (MTI.AUTHORISATION,
                                                      MTI.AUTHORISATION_REPEAT))


def _one_unit(message: Message) -> bool:
    """Whether the request is handled in one write transaction (:meth:`Connection._unit`):
    an authorisation, not a holder check (whose tries wait for the disk on their own)."""
    return message["t"] in (MTI.AUTHORISATION, MTI.AUTHORISATION_REPEAT) \
        and not is_holder_check(message)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _Refusal(Exception):
    """Answer ``code`` now (with a MAC when ``signed_by`` is known), for ``reason``."""

    def __init__(self, code: ResponseCode, reason: str, signed_by: TerminalKey | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.signed_by = signed_by


class ServiceCore:
    """The handlers over the alliance's services, the terminal keys and the replay guard."""

    def __init__(self, services: AllianceServices, *, terminals: TerminalDirectory | None = None,
                 replay: ReplayGuard | None = None,
                 clock: Callable[[], dt.datetime] = utc_now,
                 logger: logging.Logger = LOGGER, metrics: Metrics | None = None) -> None:
        self.services = services
        self.terminals = terminals or TerminalDirectory(services.db, vault=services.vault)
        self.replay = replay or ReplayGuard(services.db)
        #: the holds authorisations post, their reversals, and advices
        self.holds = AuthorisationHolds(services)
        self.clock = clock
        self.logger = logger
        #: the counters both doors report to (``/metrics``); None counts nothing
        self.metrics = metrics

    def handle_many(self, requests: Sequence[tuple[Connection, bytes]]) -> list[bytes | None]:
        """The answers to requests of several connections, in order, as
        :meth:`Connection.handle` gives them, with fewer commits (group commit): the
        authorisations among them (:meth:`Connection.grouped`) share one write transaction,
        each still all or nothing (D38), and none is answered before the one commit.
        Every other request is handled alone. If the shared transaction fails to commit,
        none of it was kept: each of its requests is handled again alone, as if it had
        just arrived (its own commit, or its 96).

        In the group a request has no savepoint of its own around its STAN and its
        answer, only the one its answer's writes take (undone alone, the STAN kept): two
        statements fewer per authorisation. A refusal before its answer wrote nothing.
        What would have rolled back to the missing savepoint, an error no refusal answers
        (the database failing, a handler bug), ends the shared transaction instead:
        nothing of the group is kept, and each of its requests is handled again alone as
        above (D66)."""
        answers: list[bytes | None] = [None] * len(requests)
        group: list[tuple[int, Connection, bytes, Message]] = []
        for n, (connection, raw) in enumerate(requests):
            message = connection.grouped(raw) if len(requests) > 1 else None
            if message is None:
                answers[n] = connection.handle(raw)
            else:
                group.append((n, connection, raw, message))
        if not group:
            return answers
        traces: list[_Trace] = []
        try:
            with self.services.db.write(flush=False, deferred=GroupPostings()):
                for n, connection, raw, message in group:
                    answers[n], trace = connection._traced(raw, message, grouped=True)
                    traces.append(trace)
        except Exception:  # nothing of the group was kept: each again, alone
            for n, connection, raw, message in group:
                answers[n], trace = connection._traced(raw, message)
                connection._log(trace)
            return answers
        for (_, connection, _, _), trace in zip(group, traces, strict=True):
            connection._log(trace)  # logged once committed: the log shows what was kept
        return answers

    def connection(self, peer: str = "", *, certified: str | None = None) -> Connection:
        """The handler state of one connection (``peer`` names it in the logs; with mutual
        TLS, ``certified`` is the terminal its certificate names, "" none)."""
        return Connection(self, peer, certified)


@dataclass
class _Trace:
    """What one request's log line says."""

    peer: str
    mti: str = ""
    terminal: str = ""
    stan: int = 0
    code: str = ""
    reason: str = ""
    started: float = field(default_factory=time.perf_counter)

    def fields(self) -> dict[str, Any]:
        return {"peer": self.peer, "mti": self.mti, "terminal": self.terminal, "stan": self.stan,
                "rc": self.code, "reason": self.reason,
                "ms": round((time.perf_counter() - self.started) * 1000, 3)}


class Connection:
    """One connection's handler: which terminal it serves, and :meth:`handle`."""

    def __init__(self, core: ServiceCore, peer: str, certified: str | None = None) -> None:
        self.core = core
        self.peer = peer
        self.terminal_id: str | None = None  #: bound by the first authenticated message
        #: the terminal the connection's TLS certificate names (None: no mutual TLS)
        self.certified = certified

    def handle(self, raw: bytes) -> bytes | None:
        """The answer to one message, or None: close the connection. Never raises."""
        answer_bytes, trace = self._traced(raw)
        self._log(trace)
        return answer_bytes

    def _traced(self, raw: bytes, message: Message | None = None, *,
                grouped: bool = False) -> tuple[bytes | None, _Trace]:
        """The answer and what its log line says (``message``: ``raw`` decoded already;
        ``grouped``: in a transaction other requests share, which an error no refusal
        answers ends: :meth:`ServiceCore.handle_many`)."""
        trace = _Trace(self.peer)
        try:
            return self._handle(bytes(raw), trace, message, grouped), trace
        except Exception as exc:  # the last line: a handler bug must not stop the server
            if grouped:
                raise
            trace.code, trace.reason = "", f"internal error {type(exc).__name__}"
            return None, trace

    def grouped(self, raw: bytes) -> Message | None:
        """``raw`` decoded when it can share a write transaction with others' requests
        (:meth:`ServiceCore.handle_many`): an authorisation that is not a holder check and
        carries no online PIN, whose transaction does not wait for the disk. None for
        anything else (handled alone), a message that does not decode included."""
        if raw[:4] not in _GROUPED_MTIS:
            return None
        try:
            message = decode(bytes(raw))
        except MessageFormatError:
            return None
        return message if _one_unit(message) and "52" not in message else None

    def _log(self, trace: _Trace) -> None:
        if self.core.metrics is not None:
            self.core.metrics.observe("iso", trace.mti or "-", "ISO",
                                      trace.code or "closed", time.perf_counter() - trace.started)
        level = logging.INFO if trace.code in ("00", "01", "05") else logging.WARNING
        if not self.core.logger.isEnabledFor(level):
            return
        self.core.logger.log(level, "%s %s rc=%s %s", trace.mti or "-", trace.terminal or "-",
                             trace.code or "closed", trace.reason,
                             extra={"fields": trace.fields()})

    def _handle(self, raw: bytes, trace: _Trace, decoded: Message | None,
                grouped: bool = False) -> bytes | None:
        if not is_request_mti(raw[:4]):
            trace.reason = "not an ISO 8583 request"
            return None
        trace.mti = raw[:4].decode("ascii")
        message: Message = {"t": trace.mti}
        terminal: TerminalKey | None = None
        try:
            message = decoded if decoded is not None else decode(raw)
            envelope = envelope_of(message, self.core.clock())
            trace.terminal, trace.stan = envelope.terminal_id, envelope.stan
            terminal = self._authenticate(raw, message, envelope)
            # committed before the answer leaves; in a group, with the group's transaction
            with nullcontext() if grouped else self._unit(message):
                fresh = self._admit(raw, message, envelope, terminal)
                reply = self._answer(message, envelope, terminal, trace, fresh=fresh)
        except MessageFormatError as exc:
            return self._refuse(message, _Refusal(ResponseCode.FORMAT_ERROR, str(exc)), trace)
        except _Refusal as refusal:
            return self._refuse(message, refusal, trace)
        except Exception as exc:  # the database is out of reach, say: nothing was decided
            if grouped:  # what it wrote is undone with the group's transaction
                raise
            failure = _Refusal(ResponseCode.SYSTEM_MALFUNCTION,
                              f"internal error {type(exc).__name__}", terminal)
            return self._refuse(message, failure, trace)
        assert terminal is not None  # _authenticate returned it
        return sign(reply, terminal.cipher)

    def _unit(self, message: Message) -> AbstractContextManager[object]:
        """One write transaction for an authorisation, from its STAN to its hold (the
        writes of each step join it, :meth:`Database.write`): nothing of it is kept unless
        all of it is, and one commit instead of three. It waits for the disk only when
        the request carries an online PIN (a wrong try must be counted). Other requests
        write in their steps' own transactions."""
        if not _one_unit(message):
            return nullcontext()
        return self.core.services.db.write(flush="52" in message)

    def _authenticate(self, raw: bytes, message: Message, envelope: Envelope) -> TerminalKey:
        terminal = self.core.terminals.get(envelope.terminal_id)
        if terminal is None:
            raise _Refusal(ResponseCode.TERMINAL_NOT_PERMITTED, "no key for this terminal")
        if not verify(raw, message, terminal.cipher):
            raise _Refusal(ResponseCode.SECURITY_VIOLATION, "MAC does not verify")
        if terminal.blocked:
            raise _Refusal(ResponseCode.TERMINAL_NOT_PERMITTED, "terminal blocked", terminal)
        if self.certified is not None and terminal.terminal_id != self.certified:
            raise _Refusal(ResponseCode.TERMINAL_NOT_PERMITTED,
                          f"the TLS certificate names terminal {self.certified or 'none'}",
                          terminal)
        if self.terminal_id not in (None, terminal.terminal_id):
            raise _Refusal(ResponseCode.TERMINAL_NOT_PERMITTED,
                          f"connection serves terminal {self.terminal_id}", terminal)
        if envelope.merchant_id != terminal.merchant_id:
            raise _Refusal(ResponseCode.INVALID_MERCHANT,
                          f"terminal belongs to {terminal.merchant_id}", terminal)
        self.terminal_id = terminal.terminal_id
        return terminal

    def _admit(self, raw: bytes, message: Message, envelope: Envelope,
               terminal: TerminalKey) -> bool:
        """Refuse a stale or replayed request, or an authorisation reversed before it came;
        take its STAN otherwise (a repeat of the request holding it passes). Whether the
        STAN was taken now (False: by this request before)."""
        now = self.core.clock()
        once = message["t"] in _ONCE_BY_RECORD
        if not once and not self.core.replay.in_window(envelope.sent_at, now):
            raise _Refusal(ResponseCode.DUPLICATE, "DE 7 outside the window", terminal)
        digest = hashlib.sha256(raw[4:-MAC_LENGTH]).digest()
        holder = self.core.replay.reserve(terminal.terminal_id, envelope.stan, envelope.sent_at,
                                          digest, now=now)
        if holder == REVERSED_FIRST and message["t"] in (MTI.AUTHORISATION,
                                                         MTI.AUTHORISATION_REPEAT):
            raise _Refusal(ResponseCode.TOO_LATE, "reversed before it arrived", terminal)
        repeat = once or message["t"] == MTI.AUTHORISATION_REPEAT
        if holder is not None and (not repeat or holder != digest):
            raise _Refusal(ResponseCode.DUPLICATE, "STAN already seen", terminal)
        return holder is None

    def _refuse(self, message: Message, refusal: _Refusal, trace: _Trace) -> bytes | None:
        trace.code, trace.reason = refusal.code.value, refusal.reason
        reply = answer(message, refusal.code)
        if refusal.signed_by is not None:
            return sign(reply, refusal.signed_by.cipher)
        try:
            return encode(reply)
        except MessageFormatError:
            return None

    def _answer(self, message: Message, envelope: Envelope, terminal: TerminalKey,
                trace: _Trace, *, fresh: bool) -> Message:
        """The handler's answer to an admitted request (``fresh``: its STAN taken now); a
        refusal code for its errors."""
        try:
            with self._unit(message):  # inside the request's: undone alone, STAN kept
                reply = self._dispatch(message, envelope, terminal, fresh=fresh)
        except Exception as exc:
            code = exc.code if isinstance(exc, ReversalRefusedError) else next(
                (c for kind, c in _REFUSALS if isinstance(exc, kind)),
                ResponseCode.SYSTEM_MALFUNCTION)
            trace.reason = str(exc) if code is not ResponseCode.SYSTEM_MALFUNCTION \
                else f"internal error {type(exc).__name__}"
            reply = answer(message, code)
        trace.code = reply["39"]
        return reply

    def _dispatch(self, message: Message, envelope: Envelope, terminal: TerminalKey, *,
                  fresh: bool) -> Message:
        mti = message["t"]
        if mti in (MTI.AUTHORISATION, MTI.AUTHORISATION_REPEAT) and is_holder_check(message):
            if mti == MTI.AUTHORISATION_REPEAT:
                raise refuse_repeat()
            result = self.core.services.authentication_centre.check(holder_check_of(message),
                                                                     terminal.terminal_id)
            return holder_check_answer(message, result)
        if mti in (MTI.AUTHORISATION, MTI.AUTHORISATION_REPEAT):
            return self._authorise_and_hold(message, envelope, terminal, fresh=fresh)
        if mti in (MTI.REVERSAL, MTI.REVERSAL_REPEAT):
            return self._reverse(message, terminal)
        if mti in (MTI.ADVICE, MTI.ADVICE_REPEAT):
            return self._advise(message, envelope, terminal)
        if mti == MTI.NETWORK:
            network_code(message)
            return answer(message, ResponseCode.APPROVED)
        raise UnsupportedRequestError(f"message type {mti} is not served")

    def _authorise_and_hold(self, message: Message, envelope: Envelope,
                            terminal: TerminalKey, *, fresh: bool) -> Message:
        """The issuer's answer, its hold posted once; 68 when the terminal reversed this
        request before it arrived (the issuer never sees it). A request whose STAN was
        taken now (``fresh``) was reversed by nobody before: a reversal of a request not
        yet seen takes its STAN (:data:`~.replay.REVERSED_FIRST`)."""
        holds = self.core.holds
        if not fresh and holds.reversed_before(terminal.terminal_id, envelope.stan,
                                               envelope.sent_at):
            return answer(message, ResponseCode.TOO_LATE)
        reply, record = self._authorise(message, terminal,
                                        repeat=message["t"] == MTI.AUTHORISATION_REPEAT)
        if record is not None:
            holds.hold(terminal, envelope.stan, envelope.sent_at, record, now=self.core.clock())
        return reply

    def _authorise(self, message: Message, terminal: TerminalKey, *,
                   repeat: bool) -> tuple[Message, Authorisation | None]:
        """The answer, and the issuer's record it gives (None: the issuer never saw it)."""
        link = self.core.services.link(terminal.terminal_id)
        call = authorisation_call(message, link.issuer.cdol1)
        if repeat:
            with self.core.services.db.read() as conn:
                record = authorisation_by_arqc(conn, call.request.arqc)
            if record is not None:
                return self._answered_before(message, link, call.request, record,
                                             terminal), record
        refused = self._online_pin(message, terminal)
        if refused is not None:
            return refused, None
        try:
            online, record = link.authorise_recorded(call.request, card_id=call.card_id,
                                                     method=call.method)
        except DuplicateAuthorisationError:
            if not repeat:  # a repeat racing its own original finds the original's record
                raise
            return self._authorise(message, terminal, repeat=True)
        return {**authorisation_answer(message, online.response),
                **script_ids_field(online.script_ids)}, record

    def _cdol1(self, terminal: TerminalKey) -> bytes:
        return self.core.services.link(terminal.terminal_id).issuer.cdol1

    def _reverse(self, message: Message, terminal: TerminalKey) -> Message:
        """Undo the authorisation DE 90 names (:mod:`.holds`): 00 whether it released a
        hold now, before, or found nothing to release."""
        now = self.core.clock()
        original = original_of(message, now)
        self.core.holds.reverse(
            Reversal(terminal, original.stan, original.sent_at, arqc_of(message),
                     int(required(message, "4"))), now=now,
            unseen=lambda: self.core.replay.reserve(  # its request is refused (68) at it
                terminal.terminal_id, original.stan, original.sent_at, REVERSED_FIRST,
                now=now))
        return answer(message, ResponseCode.APPROVED)

    def _advise(self, message: Message, envelope: Envelope, terminal: TerminalKey) -> Message:
        """Take an advice once: script outcomes (the ones the card ran are delivered), or a
        sale the card approved offline."""
        now = self.core.clock()
        if message.get("3") == SCRIPT_RESULTS:
            details: dict[str, Any] = self._script_outcomes(script_outcomes_of(message), now)
            kind = "scripts"
        else:
            call = authorisation_call(message, self._cdol1(terminal))
            details = {"card_id": call.card_id, "method": call.method.value,
                       "amount": call.request.amount, "cryptogram": call.request.arqc.hex()}
            kind = "offline_sale"
        self.core.holds.take_advice(terminal.terminal_id, envelope.stan, envelope.sent_at, kind,
                                    details, now=now)
        return answer(message, ResponseCode.APPROVED)

    def _script_outcomes(self, outcomes: list[ScriptOutcomeRecord],
                         now: dt.datetime) -> dict[str, Any]:
        """Mark the scripts the card ran delivered (once: a copy marks nothing more); what
        the advice said, for its record."""
        details: dict[str, list[str]] = {"ran": [], "refused": [], "unknown": []}
        for outcome in outcomes:
            if not outcome.ran:
                details["refused"].append(outcome.script_id)  # it stays pending
                continue
            try:
                self.core.services.office.mark_delivered(outcome.script_id, at=now)
            except NotFoundError:
                details["unknown"].append(outcome.script_id)
                continue
            details["ran"].append(outcome.script_id)
        return dict(details)

    def _online_pin(self, message: Message, terminal: TerminalKey) -> Message | None:
        """A purchase with an online PIN (DE 52) goes to the issuer only once the PIN is
        right: else the PIN check's code answers it (55, 75, 81, 86, 14)."""
        if "52" not in message:
            return None
        result = self.core.services.authentication_centre.check(
            HolderCheck(message["62"], message["2"], message["52"]), terminal.terminal_id)
        return None if result.code is ResponseCode.APPROVED else answer(message, result.code)

    @staticmethod
    def _answered_before(message: Message, link: Any, request: AuthorisationRequest,
                         record: Authorisation, terminal: TerminalKey) -> Message:
        """The issuer's recorded answer to this ARQC, given again (ARPC recomputed)."""
        if record.terminal_id != terminal.terminal_id:
            raise DuplicateAuthorisationError("the ARQC was answered to another terminal")
        decision = Decision(record.decision)
        arpc = link.issuer.issuer_authentication_data(request, decision)
        return authorisation_answer(message, AuthorisationResponse(decision, decision.arc, arpc))
