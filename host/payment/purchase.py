"""A chip purchase as a POS runs it on chip 1, from application selection to the final cryptogram.

Steps: list the applications (PSE, else PPSE) and pick one (the caller's AID or the
highest priority) → SELECT → GET PROCESSING OPTIONS with the PDOL data → READ
RECORD per AFL → offline PIN when the card's CVM list offers it and a PIN was
entered → first GENERATE AC (ARQC when an authoriser is reachable and the amount is
above the terminal's floor limit, else TC; the card may still go online) → for
an ARQC: the authoriser's answer, EXTERNAL AUTHENTICATE (when the AIP supports
issuer authentication), scripts 71, second GENERATE AC with ARC and tag 91 in the
CDOL2 data, scripts 72. Without an authoriser the terminal answers ``Y3`` (unable
to go online) and the card decides offline.

What the terminal finds goes into the TVR the CDOL data carries (``apdu_specs.payment.tvr``):
a failed offline PIN before the first GENERATE AC; a failed issuer authentication (the
card answers EXTERNAL AUTHENTICATE 6300: byte 5 b7, EMV Book 3 §10.9) before the second.

The date and the unpredictable number are parameters so that a run can be replayed.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.issuer_response import ARC
from apdu_specs.payment.script import AFTER_SECOND_AC, BEFORE_SECOND_AC
from apdu_specs.payment.tvr import TVRBit, set_bits

from .card_data import ApplicationFCI, CardData, ProcessingOptions
from .client import CryptogramResponse, PaymentClient, PinResult, ScriptResult
from .errors import CardDataError
from .issuer import AuthorisationRequest, AuthorisationResponse
from .terminal import TerminalProfile, TransactionData, build_dol

__all__ = ["Authoriser", "PurchaseOutcome", "run_purchase"]

Authoriser = Callable[[AuthorisationRequest], AuthorisationResponse]


@dataclass
class PurchaseOutcome:
    approved: bool
    fci: ApplicationFCI
    options: ProcessingOptions
    card: CardData
    first: CryptogramResponse
    second: CryptogramResponse | None = None
    pin: PinResult | None = None
    request: AuthorisationRequest | None = None
    response: AuthorisationResponse | None = None
    issuer_authenticated: bool | None = None
    scripts: list[ScriptResult] = field(default_factory=list)
    cdol1_data: bytes = b""
    cdol2_data: bytes = b""

    @property
    def final(self) -> CryptogramResponse:
        return self.second or self.first


def _tvr_after_pin(tvr: bytes, pin: PinResult) -> bytes:
    if pin.verified:
        return tvr
    if pin.blocked:
        return set_bits(tvr, TVRBit.CARDHOLDER_VERIFICATION_FAILED, TVRBit.PIN_TRY_LIMIT_EXCEEDED)
    return set_bits(tvr, TVRBit.CARDHOLDER_VERIFICATION_FAILED)


def run_purchase(client: PaymentClient, amount: int, *, terminal: TerminalProfile | None = None,
                 pin: str | None = None, authoriser: Authoriser | None = None,
                 aid: bytes | None = None, unpredictable_number: bytes | None = None,
                 date: dt.date | None = None) -> PurchaseOutcome:
    terminal = terminal or TerminalProfile()
    if aid is None:
        apps = client.list_applications()
        if not apps:
            raise CardDataError("the card lists no payment application")
        aid = apps[0].aid
    fci = client.select_application(aid)
    txn = TransactionData(amount, unpredictable_number or os.urandom(4), date or dt.date.today())
    values = txn.values(terminal)
    options = client.get_processing_options(build_dol(fci.pdol, values))
    card = client.read_application_data(options.afl)
    pin_result = None
    if pin is not None and card.supports_offline_plaintext_pin():
        pin_result = client.verify_pin(pin)
        values[0x95] = _tvr_after_pin(values[0x95], pin_result)
    cdol1_data = build_dol(card.cdol1, values)
    online = authoriser is not None and amount > terminal.floor_limit
    first = client.generate_ac(ACType.ARQC if online else ACType.TC, cdol1_data)
    outcome = PurchaseOutcome(first.kind is ACType.TC, fci, options, card, first, pin=pin_result,
                              cdol1_data=cdol1_data)
    if first.kind is ACType.ARQC:
        _go_online(client, outcome, values, authoriser)
    return outcome


def _go_online(client: PaymentClient, outcome: PurchaseOutcome, values: dict[int, bytes],
               authoriser: Authoriser | None) -> None:
    response = None
    if authoriser is not None:
        outcome.request = AuthorisationRequest.from_transaction(
            outcome.card, outcome.options.aip, outcome.cdol1_data, outcome.first)
        response = outcome.response = authoriser(outcome.request)
        if outcome.options.issuer_authentication_supported:
            outcome.issuer_authenticated = client.external_authenticate(
                response.issuer_authentication_data)
            if not outcome.issuer_authenticated:
                values[0x95] = set_bits(values[0x95], TVRBit.ISSUER_AUTHENTICATION_FAILED)
        outcome.scripts += client.apply_scripts(response.scripts, BEFORE_SECOND_AC)
        values[0x8A] = response.arc
        values[0x91] = response.issuer_authentication_data
        wanted = ACType.TC if response.approved else ACType.AAC
    else:
        values[0x8A] = ARC.OFFLINE_APPROVED
        wanted = ACType.TC
    outcome.cdol2_data = build_dol(outcome.card.cdol2, values)
    outcome.second = client.generate_ac(wanted, outcome.cdol2_data)
    outcome.approved = outcome.second.kind is ACType.TC
    if response is not None:
        outcome.scripts += client.apply_scripts(response.scripts, AFTER_SECOND_AC)
