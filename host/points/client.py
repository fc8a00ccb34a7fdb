"""The typed points client for chip 2, over any transport.

Low layer: one method per purse command (the application is selected first when it
is not yet, or no longer after the card went away), built and parsed from the command specs in
``apdu_specs``, returning dataclasses with ints and bytes and raising
:class:`~apdu_specs.sw.CardError` for a status word it does not expect. High layer: the
flows — :meth:`PointsClient.load` with the issuer's :class:`LoadHost`,
:meth:`PointsClient.purchase` with the terminal's :class:`PurchaseSecurityModule`, and
their recoveries after a torn exchange.

The client sends the exact Le every command expects. Over a T=0 reader (61xx answers)
wrap the transport in :class:`host.transport.t0.T0Transport`, as
:func:`host.connect.open_card` does.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apdu_specs.apdu import ResponseAPDU
from apdu_specs.caches import pure_cache
from apdu_specs.commands import iso7816
from apdu_specs.commands import purse as specs
from apdu_specs.commands.purse_data import (
    LOG_CAPACITY,
    PURSE_AID,
    Purse,
    TransactionType,
    encode_pin,
    parse_fci,
    parse_transaction_time,
)
from apdu_specs.commands.spec import CommandSpec
from apdu_specs.errors import SpecError
from apdu_specs.sw import SW, check, tries_left

from ..transport.base import Transport, TransportError
from .errors import PurseDataError, PurseMACError, TransactionInterrupted, WrongPINError
from .load_host import LoadAuthorization, LoadHost
from .messages import LoadInit, PurchaseInit, PurseApplication, TransactionProof
from .records import PurseRecord
from .security_module import PurchaseAuthorization, PurchaseSecurityModule

__all__ = ["PendingPurchase", "PointsClient"]

LOAD = TransactionType.LOAD
PURCHASE = TransactionType.PURCHASE


# The read commands every card of a run receives are the same few: built once each (pure
# functions of an AID or a purse, both immutable).
@pure_cache(maxsize=64)
def _select_apdu(aid: bytes) -> bytes:
    return iso7816.SELECT.build(selection=0x04, occurrence=0x00, data={"name": aid},
                                ne=256).encode()


@pure_cache(maxsize=16)
def _balance_apdu(purse: Purse) -> bytes:
    return specs.GET_BALANCE.build(purse=purse).encode()


def _now() -> _dt.datetime:
    return _dt.datetime.now().replace(microsecond=0)


@dataclass(frozen=True)
class PendingPurchase:
    """A purchase whose DEBIT was sent: what :meth:`PointsClient.recover_purchase` needs."""

    card_identity: str
    init: PurchaseInit
    authorization: PurchaseAuthorization

    def record(self, tac: bytes) -> PurseRecord:
        init, auth = self.init, self.authorization
        return PurseRecord(self.card_identity, init.purse, PURCHASE, init.amount,
                           init.balance - init.amount, init.offline_seq, init.terminal_id,
                           auth.terminal_seq, auth.when, tac)


class PointsClient:
    """Chip 2's points purse, spoken to through ``transport``."""

    def __init__(self, transport: Transport, aid: bytes = PURSE_AID) -> None:
        self.transport = transport
        self.aid = bytes(aid)
        self._application: PurseApplication | None = None

    # --- plumbing ---------------------------------------------------------------------
    def _send(self, spec: CommandSpec, fields: Mapping[str, Any],
              expect: tuple[int, ...] = (SW.OK,)) -> ResponseAPDU:
        if spec is not iso7816.SELECT and self._application is None:
            self.select()
        return self._exchange(spec, spec.build(dict(fields)).encode(), expect)

    def _exchange(self, spec: CommandSpec, apdu: bytes,
                  expect: tuple[int, ...] = (SW.OK,)) -> ResponseAPDU:
        """Send ``apdu`` (built from ``spec``) and check the status word."""
        try:
            raw = self.transport.transmit(apdu)
        except TransportError:
            self._application = None  # a card that went away must be selected again
            raise
        response = ResponseAPDU.parse(raw)
        check(response.sw, command=spec.name, expect=expect, data=response.data)
        return response

    def _call(self, spec: CommandSpec, **fields: Any) -> dict[str, Any]:
        return self._parsed(spec, self._send(spec, fields))

    @staticmethod
    def _parsed(spec: CommandSpec, response: ResponseAPDU) -> dict[str, Any]:
        try:
            return spec.parse_response(response.data)
        except SpecError as exc:
            raise PurseDataError(f"{spec.name}: {exc}") from None

    # --- selection and reads ----------------------------------------------------------
    def select(self) -> PurseApplication:
        """SELECT the purse application; its FCI names the card and its purses."""
        response = self._exchange(iso7816.SELECT, _select_apdu(self.aid))
        try:
            fci = parse_fci(response.data)
        except SpecError as exc:
            raise PurseDataError(f"the purse application is not personalised: {exc}") from None
        self._application = PurseApplication(fci.aid, fci.identity, dict(fci.purses))
        return self._application

    @property
    def application(self) -> PurseApplication:
        """The selected application (selecting it first if needed)."""
        return self._application or self.select()

    @property
    def card_identity(self) -> str:
        return self.application.identity

    def balance(self, purse: Purse) -> int:
        apdu = _balance_apdu(Purse(purse))
        if self._application is None:
            self.select()
        response = self._exchange(specs.GET_BALANCE, apdu)
        return int(self._parsed(specs.GET_BALANCE, response)["balance"])

    def balances(self) -> dict[Purse, int]:
        """Balances of every personalised purse."""
        return {purse: self.balance(purse) for purse in sorted(self.application.purses)}

    def read_log(self, purse: Purse) -> list[PurseRecord]:
        """The purse's logged movements, most recent first."""
        purse, identity = Purse(purse), self.card_identity
        out: list[PurseRecord] = []
        for number in range(1, LOG_CAPACITY + 1):
            response = self._send(specs.READ_RECORD,
                                  {"record": number, "reference": purse.log_reference},
                                  expect=(SW.OK, SW.RECORD_NOT_FOUND))
            if response.sw == SW.RECORD_NOT_FOUND:
                break
            try:
                f = specs.READ_RECORD.parse_response(response.data)
                when = parse_transaction_time(f["date"] + f["time"])
                out.append(PurseRecord(identity, purse, TransactionType(f["type"]), f["amount"],
                                       f["balance_after"], f["counter"], f["terminal_id"],
                                       f["terminal_seq"], when, f["tac"]))
            except (SpecError, ValueError) as exc:
                raise PurseDataError(
                    f"log record {number} of the {purse.label} purse: {exc}") from None
        return out

    def verify_pin(self, pin: str) -> None:
        """Present the holder's PIN; :class:`WrongPINError` with the tries left if wrong."""
        response = self._send(specs.VERIFY, {"data": {"pin": encode_pin(pin)}},
                              expect=(SW.OK, *range(0x63C0, 0x63D0)))
        left = tries_left(response.sw)
        if left is not None:
            raise WrongPINError(left)

    def transaction_proof(self, purse: Purse, txn_type: TransactionType,
                          seq: int) -> TransactionProof | None:
        """MAC2 and TAC of the movement that used ``seq``, or None if the card has none."""
        response = self._send(specs.GET_TRANSACTION_PROVE,
                              {"purse": Purse(purse), "type": TransactionType(txn_type),
                               "data": {"seq": seq}, "ne": 8},
                              expect=(SW.OK, SW.PURSE_MAC_NOT_AVAILABLE))
        if response.sw == SW.PURSE_MAC_NOT_AVAILABLE:
            return None
        f = specs.GET_TRANSACTION_PROVE.parse_response(response.data)
        return TransactionProof(f["mac"], f["tac"])

    # --- the four value commands --------------------------------------------------------
    def initialize_for_load(self, purse: Purse, amount: int, terminal_id: bytes,
                            key_index: int = 1) -> LoadInit:
        f = self._call(specs.INITIALIZE_FOR_LOAD, purse=Purse(purse), data={
            "key_index": key_index, "amount": amount, "terminal_id": bytes(terminal_id)})
        return LoadInit(Purse(purse), amount, bytes(terminal_id), key_index, f["balance"],
                        f["online_seq"], f["key_version"], f["algorithm_id"], f["random"],
                        f["mac1"])

    def credit_for_load(self, time: bytes, mac2: bytes) -> bytes:
        """CREDIT FOR LOAD with the 7 BCD bytes of date-time; the card's TAC."""
        return self._call(specs.CREDIT_FOR_LOAD, data={"date": time[:4], "time": time[4:],
                                                       "mac2": mac2})["tac"]

    def initialize_for_purchase(self, purse: Purse, amount: int, terminal_id: bytes,
                                key_index: int = 1) -> PurchaseInit:
        f = self._call(specs.INITIALIZE_FOR_PURCHASE, purse=Purse(purse), data={
            "key_index": key_index, "amount": amount, "terminal_id": bytes(terminal_id)})
        return PurchaseInit(Purse(purse), amount, bytes(terminal_id), key_index, f["balance"],
                            f["offline_seq"], f["key_version"], f["algorithm_id"], f["random"])

    def debit_for_purchase(self, terminal_seq: int, time: bytes,
                           mac1: bytes) -> tuple[bytes, bytes]:
        """DEBIT FOR PURCHASE; the card's (TAC, MAC2)."""
        f = self._call(specs.DEBIT_FOR_PURCHASE, data={
            "terminal_seq": terminal_seq, "date": time[:4], "time": time[4:], "mac1": mac1})
        return f["tac"], f["mac2"]

    # --- flows ------------------------------------------------------------------------
    def load(self, purse: Purse, amount: int, issuer: LoadHost, *, terminal_id: bytes,
             when: _dt.datetime | None = None) -> PurseRecord:
        """Load ``amount`` points with the issuer's approval; the TAC-checked record.

        :class:`TransactionInterrupted` (with the authorisation) if the card went away
        during CREDIT FOR LOAD: reconnect and call :meth:`recover_load`.
        """
        identity = self.card_identity
        init = self.initialize_for_load(purse, amount, terminal_id,
                                        issuer.key_index(identity, Purse(purse)))
        authorization = issuer.authorize(identity, init, when or _now())
        try:
            tac = self.credit_for_load(authorization.time_bytes, authorization.mac2)
        except TransportError as exc:
            raise TransactionInterrupted(f"load interrupted: {exc}", authorization) from exc
        return issuer.confirm(authorization, tac)

    def recover_load(self, authorization: LoadAuthorization,
                     issuer: LoadHost) -> PurseRecord | None:
        """After an interrupted load: its record if the card credited it, else None."""
        self.select()
        init = authorization.init
        proof = self.transaction_proof(init.purse, LOAD, init.online_seq)
        if proof is None or proof.mac != authorization.mac2:
            return None  # never credited (another load may have used the number since)
        return issuer.confirm(authorization, proof.tac)

    def purchase(self, purse: Purse, amount: int, sam: PurchaseSecurityModule, *,
                 when: _dt.datetime | None = None) -> PurseRecord:
        """Spend ``amount`` points at the terminal of ``sam``; the record with the card's TAC.

        The card's MAC2 is checked by ``sam`` (:class:`PurseMACError` if it is wrong). The
        TAC is for the back office. :class:`TransactionInterrupted` (with the pending
        purchase) if the card went away during DEBIT: reconnect, :meth:`recover_purchase`.
        """
        identity = self.card_identity
        init = self.initialize_for_purchase(purse, amount, sam.terminal_id,
                                            sam.key_index(identity, Purse(purse)))
        pending = PendingPurchase(identity, init, sam.authorize_purchase(identity, init,
                                                                         when or _now()))
        auth = pending.authorization
        try:
            tac, mac2 = self.debit_for_purchase(auth.terminal_seq, auth.time_bytes, auth.mac1)
        except TransportError as exc:
            raise TransactionInterrupted(f"purchase interrupted: {exc}", pending) from exc
        sam.verify_mac2(mac2)
        return pending.record(tac)

    def recover_purchase(self, pending: PendingPurchase,
                         sam: PurchaseSecurityModule) -> PurseRecord | None:
        """After an interrupted purchase: its record if the card debited it, else None."""
        self.select()
        init = pending.init
        proof = self.transaction_proof(init.purse, PURCHASE, init.offline_seq)
        if proof is None:
            return None
        try:
            sam.verify_mac2(proof.mac)
        except PurseMACError:
            return None  # another purchase used that sequence number since
        return pending.record(proof.tac)

