"""The chip 2 points purse: three PBOC-style purses in one application.

Theory of operation
-------------------
A load is two commands. INITIALIZE FOR LOAD checks the request and answers the
balance, the online sequence number, a fresh random and MAC1 under the session key
SESLK, which proves the card (and its balance) to the issuer; nothing persistent
changes. CREDIT FOR LOAD brings the issuer's MAC2: when it is right, the balance, the
online counter and a log entry are written in one transaction and the card answers the
TAC, computed with a key only the issuer knows.

A purchase is the mirror image. INITIALIZE FOR PURCHASE answers the balance, the
offline sequence number and a random; DEBIT FOR PURCHASE brings the terminal's MAC1
(from its security module) and, when it is right, debits, counts and logs in one
transaction and answers the TAC and MAC2, which proves the debit to the terminal.

Both completions consume the pending session whatever happens (one MAC guess per
INITIALIZE); every MAC check is counted with an immediate write before the comparison,
a right MAC resets the count with the movement, and wrong MACs lock the application at
the limit (:mod:`.guard`). A sequence number at FFFF is exhausted (9402): a counter is
never reused. After a torn completion, GET TRANSACTION PROVE finds the movement in the
purse's log by type and sequence number and answers its MAC2 and TAC, or 9406 when it
never happened — so the host can tell, and no point is lost or created.
"""

from __future__ import annotations

from typing import Any

from apdu_specs.commands import purse as specs
from apdu_specs.commands.purse_data import (
    OPTION_PIN_FOR_PURCHASE,
    Purse,
    TransactionType,
    build_fci,
    parse_transaction_time,
)
from apdu_specs.crypto.purse import PurseScheme
from apdu_specs.errors import SpecError
from apdu_specs.sw import SW, SWError
from cardlib.applet import APDUContext, Applet, AppletEnv, Response, handles
from cardlib.pin import PIN

from .guard import MACGuard
from .log import LogEntry
from .perso import personalize_purse_dgi
from .session import LoadSession, PurchaseSession, clear_session, start_session, take_session
from .state import SEQ_LIMIT, PurseKey, PurseParams, PurseState

__all__ = ["PointsPurseApplet"]

LOAD = TransactionType.LOAD
PURCHASE = TransactionType.PURCHASE


def _transaction_time(fields: dict[str, Any]) -> bytes:
    raw = fields["data"]["date"] + fields["data"]["time"]
    try:
        parse_transaction_time(raw)
    except SpecError as exc:
        raise SWError(SW.WRONG_DATA, str(exc)) from None
    return raw


class PointsPurseApplet(Applet):
    """Consumption, bank and credit points on chip 2 (mission F2, F4, F5)."""

    title = "points purse"

    def __init__(self, env: AppletEnv) -> None:
        super().__init__(env)
        self.guard = MACGuard(self.store)
        self.pin = PIN(self.store, self.ram, "pin")

    def purse(self, purse: int) -> PurseState:
        return PurseState(self.store, purse)  # PurseState checks the purse number

    # --- life cycle -------------------------------------------------------------------
    def select(self, ctx: APDUContext) -> Response | bytes:
        identity = self.store.get("identity")
        purses = {p: params.algorithm_id for p in Purse
                  if (params := self.purse(p).params) is not None}
        if identity is None:
            return super().select(ctx)
        return build_fci(self.aid, identity, purses)

    def personalize(self, dgi: int, data: bytes) -> None:
        personalize_purse_dgi(self.store, self.pin, dgi, data)

    def end_personalization(self) -> None:
        """Personalised once it names its card and every purse it opened has its TAC key."""
        opened = [state for p in Purse if (state := self.purse(p)).has_params]
        if (self.store.get("identity") is not None and opened
                and all(state.has_tac_key for state in opened)):
            self.mark_personalized()

    # --- reads ------------------------------------------------------------------------
    @handles(specs.GET_BALANCE)
    def get_balance(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        state = self.purse(fields["purse"])
        state.require()
        return state.balance.to_bytes(4, "big")

    @handles(specs.READ_RECORD)
    def read_record(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        state = self.purse(Purse.from_log_reference(fields["reference"]))
        state.require()
        entry = state.log.record(fields["record"])
        if entry is None:
            raise SWError(SW.RECORD_NOT_FOUND)
        return entry.record()

    @handles(specs.GET_TRANSACTION_PROVE)
    def get_transaction_prove(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        state = self.purse(fields["purse"])
        state.require()
        entry = state.log.find(fields["type"], fields["data"]["seq"])
        if entry is None:
            raise SWError(SW.PURSE_MAC_NOT_AVAILABLE)
        return entry.mac2 + entry.tac

    @handles(specs.VERIFY)
    def verify(self, ctx: APDUContext, fields: dict[str, Any]) -> Response:
        candidate = fields.get("data", {}).get("pin", b"")
        if not candidate:
            if not self.pin.is_set:
                raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "no PIN personalised")
            if self.pin.blocked:
                raise SWError(SW.AUTH_METHOD_BLOCKED)
            return Response(sw=SW.OK if self.pin.validated else 0x63C0 | self.pin.tries_left)
        self.guard.check_unlocked()
        return Response(sw=self.pin.check(candidate))

    # --- load -------------------------------------------------------------------------
    def _open(self, purse: int, key_index: int, kind: TransactionType
              ) -> tuple[PurseState, PurseParams, PurseKey]:
        """Common INITIALIZE checks: lock, personalisation, key index."""
        clear_session(self.ram)
        self.guard.check_unlocked()
        state = self.purse(purse)
        params = state.require()
        key = state.load_key(key_index) if kind is LOAD else state.purchase_key(key_index)
        if key is None:
            raise SWError(SW.PURSE_KEY_INDEX_NOT_SUPPORTED, f"no key with index {key_index:02X}")
        return state, params, key

    @handles(specs.INITIALIZE_FOR_LOAD)
    def initialize_for_load(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        data = fields["data"]
        state, params, dlk = self._open(fields["purse"], data["key_index"], LOAD)
        seq, balance, amount = state.online_seq, state.balance, data["amount"]
        if seq >= SEQ_LIMIT:
            raise SWError(SW.PURSE_COUNTER_EXHAUSTED, "online sequence number exhausted")
        if amount == 0 or balance + amount > params.max_balance:
            raise SWError(SW.WRONG_DATA, "amount zero or above the purse maximum")
        scheme, random = params.scheme, self.env.random(4)
        seslk = scheme.load_session_key(dlk.key, random, seq)
        mac1 = scheme.load_mac1(seslk, balance, amount, LOAD, data["terminal_id"])
        start_session(self.ram, LoadSession(state.purse, scheme, amount, data["terminal_id"],
                                            balance, seq, seslk))
        return specs.INITIALIZE_FOR_LOAD.build_response({
            "balance": balance, "online_seq": seq, "key_version": dlk.version,
            "algorithm_id": params.algorithm_id, "random": random, "mac1": mac1})

    @handles(specs.CREDIT_FOR_LOAD)
    def credit_for_load(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        session = take_session(self.ram, LoadSession)
        self.guard.check_unlocked()
        when = _transaction_time(fields)
        scheme, state = session.scheme, self.purse(session.purse)
        mac2 = fields["data"]["mac2"]
        self.guard.verify(scheme, session.seslk,
                          scheme.load_mac2_data(session.amount, LOAD, session.terminal_id, when),
                          mac2, "MAC2")
        if state.balance != session.balance or state.online_seq != session.seq:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "purse changed since INITIALIZE")
        balance_after = session.balance + session.amount
        tac = scheme.load_tac(self._tac_key(state, scheme), balance_after, session.seq,
                              session.amount, LOAD, session.terminal_id, when)
        with self.store.transaction():
            state.balance = balance_after
            state.online_seq = session.seq + 1
            state.log.append(LogEntry(session.seq, LOAD, session.amount, balance_after,
                                      session.terminal_id, 0, when, tac, mac2))
        return tac

    # --- purchase ---------------------------------------------------------------------
    @handles(specs.INITIALIZE_FOR_PURCHASE)
    def initialize_for_purchase(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        data = fields["data"]
        state, params, dpk = self._open(fields["purse"], data["key_index"], PURCHASE)
        if params.options & OPTION_PIN_FOR_PURCHASE and not self.pin.validated:
            raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED, "verify the holder's PIN first")
        seq, balance, amount = state.offline_seq, state.balance, data["amount"]
        if seq >= SEQ_LIMIT:
            raise SWError(SW.PURSE_COUNTER_EXHAUSTED, "offline sequence number exhausted")
        if amount == 0:
            raise SWError(SW.WRONG_DATA, "amount zero")
        if amount > balance:
            raise SWError(SW.PURSE_INSUFFICIENT_BALANCE)
        random = self.env.random(4)
        start_session(self.ram, PurchaseSession(state.purse, params.scheme, amount,
                                                data["terminal_id"], balance, seq, random, dpk.key))
        return specs.INITIALIZE_FOR_PURCHASE.build_response({
            "balance": balance, "offline_seq": seq, "overdraft_limit": 0,
            "key_version": dpk.version, "algorithm_id": params.algorithm_id, "random": random})

    @handles(specs.DEBIT_FOR_PURCHASE)
    def debit_for_purchase(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        session = take_session(self.ram, PurchaseSession)
        self.guard.check_unlocked()
        when = _transaction_time(fields)
        data, scheme, state = fields["data"], session.scheme, self.purse(session.purse)
        terminal_seq = data["terminal_seq"]
        sespk = scheme.purchase_session_key(session.dpk, session.random, session.seq, terminal_seq)
        self.guard.verify(scheme, sespk,
                          scheme.purchase_mac1_data(session.amount, PURCHASE, session.terminal_id,
                                                    when),
                          data["mac1"], "MAC1")
        if state.balance != session.balance or state.offline_seq != session.seq:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "purse changed since INITIALIZE")
        balance_after = session.balance - session.amount
        tac = scheme.purchase_tac(self._tac_key(state, scheme), session.amount, PURCHASE,
                                  session.terminal_id, terminal_seq, when)
        mac2 = scheme.purchase_mac2(sespk, session.amount)
        with self.store.transaction():
            state.balance = balance_after
            state.offline_seq = session.seq + 1
            state.log.append(LogEntry(session.seq, PURCHASE, session.amount, balance_after,
                                      session.terminal_id, terminal_seq, when, tac, mac2))
        return tac + mac2

    # --- helpers ----------------------------------------------------------------------
    @staticmethod
    def _tac_key(state: PurseState, scheme: PurseScheme) -> bytes:
        dtk = state.tac_key
        if dtk is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "no TAC key")
        return scheme.tac_key(dtk.key)
