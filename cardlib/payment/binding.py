"""The personal reader binding on the card: bind, unbind, mutual authentication, the gate.

Theory of operation
-------------------
Persistent (the application's memory): ``binding`` = (reader id, binding key) while
bound, absent otherwise; ``binding_counter`` counts every bind and unbind. BIND and
UNBIND write both in the command's transaction, so a tear leaves the old binding or
the new one, never a reader id without its key or a binding under an old counter.

RAM (cleared on deselect and reset): the card challenge GET CHALLENGE handed out (spent
by the next binding command, whatever its outcome: one MAC try per challenge); the
nonces of a pending READER AUTHENTICATE (spent by the next READER CONFIRM: a replayed
confirmation finds nothing pending); and, once the reader has proved itself, the flag
that opens the payment commands until the application is deselected.

While bound the application is in *personal mode*: :meth:`ReaderBinding.require_reader`
answers 6982 to GET PROCESSING OPTIONS, VERIFY and GENERATE AC until its bound reader
has authenticated in this selection.
"""

from __future__ import annotations

from typing import Any

from apdu_specs.commands.binding import (
    BIND_READER,
    READER_AUTHENTICATE,
    READER_CONFIRM,
    UNBIND_READER,
)
from apdu_specs.commands.iso7816 import GET_CHALLENGE
from apdu_specs.crypto.errors import MACError
from apdu_specs.payment.binding import (
    CHALLENGE_LENGTH,
    NONCE_LENGTH,
    READER_ID_LENGTH,
    BindingStatus,
    card_proof,
    verify_reader_proof,
)
from apdu_specs.payment.cryptogram import SCRIPT_MAC_LENGTH, CryptogramVersion
from apdu_specs.payment.errors import PaymentFormatError
from apdu_specs.sw import SW, SWError
from cardlib.applet import APDUContext, Applet, Response, handles

from .config import AppConfig

__all__ = ["ReaderBinding"]

_CHALLENGE = "binding_challenge"
_PENDING = "reader_pending"
_AUTHENTICATED = "reader_authenticated"
_BINDING = "binding"
_COUNTER = "binding_counter"
_REBIND = 0x01


class ReaderBinding(Applet):
    """Mixin of the payment application: the binding commands and personal mode's gate."""

    def _binding(self) -> tuple[bytes, bytes] | None:
        stored = self.store.get(_BINDING)
        return None if stored is None else (bytes(stored[0]), bytes(stored[1]))

    def binding_status(self, cvn: int) -> bytes:
        """GET DATA DF30's value."""
        binding = self._binding()
        counter = int(self.store.get(_COUNTER, 0))
        if binding is None:
            return BindingStatus(False, counter, cvn).encode()
        return BindingStatus(True, counter, cvn, binding[0]).encode()

    def require_reader(self) -> None:
        """Personal mode's gate, called by every payment command."""
        if self._binding() is not None and not self.ram.on_deselect.get(_AUTHENTICATED):
            raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED,
                          "personal mode: authenticate with the bound reader first")

    @handles(GET_CHALLENGE)
    def get_challenge(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        if fields.get("ne") not in (CHALLENGE_LENGTH, 256):
            raise SWError(SW.WRONG_LENGTH, f"the challenge has {CHALLENGE_LENGTH} bytes")
        challenge = self.env.random(CHALLENGE_LENGTH)
        self.ram.on_deselect[_CHALLENGE] = challenge
        return challenge

    @staticmethod
    def _require_mac(ctx: APDUContext) -> None:
        if not ctx.cla.secure_messaging:
            raise SWError(SW.SM_DATA_OBJECTS_MISSING, "binding commands carry the issuer's MAC")

    def _issuer_data(self, ctx: APDUContext, cfg: AppConfig) -> bytes:
        """The command's data once its MAC is checked (the challenge spent either way)."""
        challenge = self.ram.on_deselect.pop(_CHALLENGE, None)
        if challenge is None:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "GET CHALLENGE first")
        apdu = ctx.apdu
        data, mac = apdu.data[:-SCRIPT_MAC_LENGTH], apdu.data[-SCRIPT_MAC_LENGTH:]
        header = bytes([apdu.cla, apdu.ins, apdu.p1, apdu.p2, len(apdu.data)])
        version = cfg.version
        counter = int(self.store.get(_COUNTER, 0))
        try:
            version.verify_script_mac(version.sm_session_key(cfg.keys.smi, challenge),
                                      header, counter, challenge, data, mac)
        except MACError:
            raise SWError(SW.SM_DATA_OBJECTS_INCORRECT, "issuer MAC wrong") from None
        return data if not data else self._deciphered_key(version, cfg, challenge, data)

    @staticmethod
    def _deciphered_key(version: CryptogramVersion, cfg: AppConfig, challenge: bytes,
                        data: bytes) -> bytes:
        """BIND's data: reader id ‖ the binding key deciphered."""
        reader_id, wrapped = data[:READER_ID_LENGTH], data[READER_ID_LENGTH:]
        try:
            key = version.decipher(version.sm_session_key(cfg.keys.smc, challenge), wrapped)
        except PaymentFormatError as exc:
            raise SWError(SW.WRONG_DATA, str(exc)) from None
        if len(key) != version.key_length:
            raise SWError(SW.WRONG_DATA, f"a binding key has {version.key_length} bytes")
        return reader_id + key

    @handles(BIND_READER)
    def bind_reader(self, ctx: APDUContext, fields: dict[str, Any]) -> None:
        self._require_mac(ctx)
        if len(fields["data"]["payload"]) <= SCRIPT_MAC_LENGTH:
            raise SWError(SW.WRONG_LENGTH, "BIND READER carries an enciphered key and a MAC")
        cfg = AppConfig.load(self.store)
        bound = self._binding() is not None
        if bound != (fields["operation"] == _REBIND):
            self.ram.on_deselect.pop(_CHALLENGE, None)
            raise SWError(SW.CONDITIONS_NOT_SATISFIED,
                          "already bound: rebind (P1 01)" if bound else "not bound: bind (P1 00)")
        plain = self._issuer_data(ctx, cfg)
        self.store.set(_BINDING, (plain[:READER_ID_LENGTH], plain[READER_ID_LENGTH:]))
        self.store.set(_COUNTER, int(self.store.get(_COUNTER, 0)) + 1)
        self.ram.on_deselect.pop(_AUTHENTICATED, None)

    @handles(UNBIND_READER)
    def unbind_reader(self, ctx: APDUContext, fields: dict[str, Any]) -> None:
        self._require_mac(ctx)
        cfg = AppConfig.load(self.store)
        if self._binding() is None:
            self.ram.on_deselect.pop(_CHALLENGE, None)
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "not bound")
        self._issuer_data(ctx, cfg)
        self.store.delete(_BINDING)
        self.store.set(_COUNTER, int(self.store.get(_COUNTER, 0)) + 1)
        self.ram.on_deselect.pop(_AUTHENTICATED, None)

    @handles(READER_AUTHENTICATE)
    def reader_authenticate(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        reader_id, reader_nonce = fields["data"]["reader_id"], fields["data"]["reader_nonce"]
        binding = self._binding()
        self.ram.on_deselect.pop(_AUTHENTICATED, None)
        self.ram.on_deselect.pop(_PENDING, None)
        if binding is None or binding[0] != reader_id:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "not bound to this reader")
        version = AppConfig.load(self.store).version
        card_nonce = self.env.random(NONCE_LENGTH)
        self.ram.on_deselect[_PENDING] = (reader_id, reader_nonce, card_nonce)
        return card_nonce + card_proof(version, binding[1], reader_id, reader_nonce, card_nonce)

    @handles(READER_CONFIRM)
    def reader_confirm(self, ctx: APDUContext, fields: dict[str, Any]) -> Response:
        pending = self.ram.on_deselect.pop(_PENDING, None)
        binding = self._binding()
        if pending is None or binding is None or binding[0] != pending[0]:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "no READER AUTHENTICATE pending")
        reader_id, reader_nonce, card_nonce = pending
        version = AppConfig.load(self.store).version
        try:
            verify_reader_proof(version, binding[1], reader_id, card_nonce, reader_nonce,
                                fields["data"]["reader_proof"])
        except MACError:
            return Response(b"", SW.NVM_CHANGED)
        self.ram.on_deselect[_AUTHENTICATED] = True
        return Response(b"", SW.OK)
