"""Issuer script commands on the card: verify the MAC, then act (EMV Book 3 §6.5, §10.10).

A script command is only accepted in a selection that produced an ARQC: its MAC is
keyed with SK-SMI derived from that ARQC and covers the header, the ATC and the
ARQC, so a script recorded in one transaction is useless in any other. A wrong MAC
answers 6988 and marks the transaction's script processing as failed (an immediate
write: the failure must survive the failing command); so does a command whose MAC
was right but whose action failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from apdu_specs.commands.payment import (
    APPLICATION_BLOCK,
    APPLICATION_UNBLOCK,
    PIN_CHANGE_UNBLOCK,
    PUT_DATA_SCRIPT,
)
from apdu_specs.crypto.errors import MACError
from apdu_specs.payment import dgi as D
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.errors import PaymentFormatError
from apdu_specs.payment.pin_block import decode_pin_block, encode_pin_block
from apdu_specs.payment.script import split_script_command
from apdu_specs.sw import SW, SWError
from cardlib.applet import APDUContext, Applet, handles

from .config import AppConfig
from .state import Flags, PaymentState, payment_pin, session_of

__all__ = ["IssuerScripts"]

_WRITABLE_LIMITS = {D.TAG_OFFLINE_LIMIT, D.TAG_CREDIT_LIMIT, D.TAG_LOWER_OFFLINE,
                    D.TAG_UPPER_OFFLINE}


class IssuerScripts(Applet):
    """Mixin of the payment application: the four script commands."""

    def _run_script(self, ctx: APDUContext, action: Callable[[AppConfig, bytes, bytes], None]) -> None:
        if not ctx.cla.secure_messaging:
            raise SWError(SW.SM_DATA_OBJECTS_MISSING, "issuer script commands carry a MAC")
        cfg = AppConfig.load(self.store)
        session = session_of(self.ram)
        first = session.first
        if first is None or first.kind is not ACType.ARQC or session.gpo_atc is None:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "no ARQC in this selection keys the script")
        try:
            header, data, mac = split_script_command(ctx.apdu)
        except PaymentFormatError as exc:
            raise SWError(SW.WRONG_LENGTH, str(exc)) from None
        state = PaymentState(self.store)
        version = cfg.version
        try:
            version.verify_script_mac(version.sm_session_key(cfg.keys.smi, first.cryptogram),
                                      header, session.gpo_atc, first.cryptogram, data, mac)
        except MACError:
            state.script_failed_now()
            raise SWError(SW.SM_DATA_OBJECTS_INCORRECT, "issuer script MAC wrong") from None
        try:
            action(cfg, first.cryptogram, data)
        except SWError:
            state.script_failed_now()
            raise
        state.count_script()

    @handles(APPLICATION_BLOCK)
    def application_block(self, ctx: APDUContext, fields: dict[str, Any]) -> None:
        self._run_script(ctx, lambda cfg, arqc, data: self._set_blocked(data, True))

    @handles(APPLICATION_UNBLOCK)
    def application_unblock(self, ctx: APDUContext, fields: dict[str, Any]) -> None:
        self._run_script(ctx, lambda cfg, arqc, data: self._set_blocked(data, False))

    def _set_blocked(self, data: bytes, blocked: bool) -> None:
        if data:
            raise SWError(SW.WRONG_LENGTH, "this command carries only its MAC")
        state = PaymentState(self.store)
        if blocked:
            state.set_flags(add=Flags.BLOCKED)
        else:
            state.set_flags(remove=Flags.BLOCKED)

    @handles(PIN_CHANGE_UNBLOCK)
    def pin_change_unblock(self, ctx: APDUContext, fields: dict[str, Any]) -> None:
        operation = fields["operation"]
        if operation == 0x01:
            raise SWError(SW.INCORRECT_P1P2, "PIN change with the current PIN is not supported")

        def act(cfg: AppConfig, arqc: bytes, data: bytes) -> None:
            pin = payment_pin(self.store, self.ram)
            if not pin.is_set:
                raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "no PIN personalised")
            if operation == 0x00:
                if data:
                    raise SWError(SW.WRONG_LENGTH, "PIN unblock carries only its MAC")
                pin.unblock()
                return
            version = cfg.version
            try:
                block = version.decipher(version.sm_session_key(cfg.keys.smc, arqc), data)
                new_pin = decode_pin_block(block)
            except PaymentFormatError as exc:
                raise SWError(SW.WRONG_DATA, str(exc)) from None
            pin.set(encode_pin_block(new_pin))

        self._run_script(ctx, act)

    @handles(PUT_DATA_SCRIPT)
    def put_data(self, ctx: APDUContext, fields: dict[str, Any]) -> None:
        tag = fields["tag_high"] << 8 | fields["tag_low"]

        def act(cfg: AppConfig, arqc: bytes, value: bytes) -> None:
            risk = cfg.risk
            if tag not in _WRITABLE_LIMITS or (tag == D.TAG_CREDIT_LIMIT and risk.credit_limit is None):
                raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"tag {tag:X} is not writable here")
            try:
                if tag == D.TAG_OFFLINE_LIMIT:
                    risk = replace(risk, offline_limit=D.decode_limit(value))
                elif tag == D.TAG_CREDIT_LIMIT:
                    risk = replace(risk, credit_limit=D.decode_limit(value))
                else:
                    if len(value) != 1:
                        raise PaymentFormatError("a consecutive offline limit has 1 byte")
                    name = ("lower_consecutive_offline" if tag == D.TAG_LOWER_OFFLINE
                            else "upper_consecutive_offline")
                    risk = replace(risk, **{name: value[0]})
            except PaymentFormatError as exc:
                raise SWError(SW.WRONG_DATA, str(exc)) from None
            self.store.set("risk", risk.encode())

        self._run_script(ctx, act)
