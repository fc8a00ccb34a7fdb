"""Chip 1's side of a sale, step by step, so the terminal can journal between the steps.

Order (EMV Book 3 as docs/payment.md describes it): list the applications (PSE, else
PPSE) and pick one → SELECT → GET PROCESSING OPTIONS → READ RECORD per AFL (the holder
is known: identity confirmation, F7) → offline PIN → first GENERATE AC → online: the
issuer's answer, EXTERNAL AUTHENTICATE, scripts 71, second GENERATE AC with ARC and
tag 91, scripts 72.

Unlike :func:`host.payment.purchase.run_purchase` (one call), each step here is a method:
the terminal records the outcome of one before it sends the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.aids import CREDIT_AID, DEBIT_AID
from apdu_specs.payment.issuer_response import ARC
from apdu_specs.payment.script import AFTER_SECOND_AC, BEFORE_SECOND_AC
from apdu_specs.payment.tvr import TVRBit, set_bits
from host.payment.card_data import ApplicationFCI, CardData, DirectoryEntry, ProcessingOptions
from host.payment.client import CryptogramResponse, PaymentClient, ScriptResult
from host.payment.errors import CardDataError, PaymentError
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse
from host.payment.terminal import TerminalProfile, TransactionData, build_dol

from .errors import POSUsageError
from .link import PaymentMethod
from .records import Holder, PinCheck

__all__ = ["ApplicationChooser", "ChipPayment", "OnlineCompletion", "method_of"]

#: the holder's choice among the card's applications (F7's settlement screen)
ApplicationChooser = Callable[[Sequence[DirectoryEntry]], DirectoryEntry]


_METHODS = {DEBIT_AID: PaymentMethod.DEBIT, CREDIT_AID: PaymentMethod.CREDIT}


def method_of(entry: DirectoryEntry) -> PaymentMethod | None:
    """Debit or credit, from the AID (or the label of another issuer's application)."""
    if entry.aid in _METHODS:
        return _METHODS[entry.aid]
    label = entry.label.upper()
    return PaymentMethod.CREDIT if "CREDIT" in label else \
        PaymentMethod.DEBIT if "DEBIT" in label else None


@dataclass
class OnlineCompletion:
    """How the card took the issuer's answer."""

    second: CryptogramResponse
    issuer_authenticated: bool | None
    scripts: list[ScriptResult] = field(default_factory=list)
    cdol2_data: bytes = b""

    @property
    def scripts_ok(self) -> bool:
        return all(result.ok for result in self.scripts)


class ChipPayment:
    """One chip 1 transaction over ``client``."""

    def __init__(self, client: PaymentClient, terminal: TerminalProfile,
                 txn: TransactionData) -> None:
        self.client = client
        self.terminal = terminal
        self.txn = txn
        self.values = txn.values(terminal)
        self.entry: DirectoryEntry | None = None
        self.method: PaymentMethod | None = None
        self.fci: ApplicationFCI | None = None
        self.options: ProcessingOptions | None = None
        self.card: CardData | None = None
        self.cdol1_data = b""
        self.first: CryptogramResponse | None = None
        #: the CDOL2 data of the second GENERATE AC (what its cryptogram covers with CDOL1's)
        self.cdol2_data = b""

    # -- reading the card -------------------------------------------------------------------

    def open(self, *, method: PaymentMethod | None = None,
             choose: ApplicationChooser | None = None) -> Holder:
        """Pick the application, start the transaction, read the records: the holder."""
        apps = self.client.list_applications()
        if not apps:
            raise CardDataError("the card lists no payment application")
        self.entry = self._pick(apps, method, choose)
        self.method = method_of(self.entry)
        self.fci = self.client.select_application(self.entry.aid)
        self.options = self.client.get_processing_options(build_dol(self.fci.pdol, self.values))
        self.card = self.client.read_application_data(self.options.afl)
        return Holder(self.card.masked_pan, self.card.cardholder_name,
                      self.fci.label or self.entry.label, self.method)

    @staticmethod
    def _pick(apps: Sequence[DirectoryEntry], method: PaymentMethod | None,
              choose: ApplicationChooser | None) -> DirectoryEntry:
        if method is not None:
            for app in apps:
                if method_of(app) is method:
                    return app
            raise CardDataError(f"the card has no {method.value} application")
        if choose is not None:
            picked = choose(apps)
            if picked not in apps:
                raise POSUsageError("the chosen application is not one the card offers")
            return picked
        return apps[0]

    def verify_pin(self, pin: str | None) -> PinCheck:
        """The offline PIN when the card's CVM list asks for it; failures set the TVR."""
        card = self._card()
        if not card.supports_offline_plaintext_pin():
            return PinCheck(False, asked=False)
        if pin is None:
            check = PinCheck(False, None, asked=True)
        else:
            result = self.client.verify_pin(pin)
            check = PinCheck(result.verified, result.tries_left, result.blocked)
        if not check.verified:
            bits = [TVRBit.CARDHOLDER_VERIFICATION_FAILED]
            if check.blocked:
                bits.append(TVRBit.PIN_TRY_LIMIT_EXCEEDED)
            self.values[0x95] = set_bits(self.values[0x95], *bits)
        return check

    def _card(self) -> CardData:
        if self.card is None:
            raise POSUsageError("the application is not open: call open() first")
        return self.card

    # -- cryptograms ------------------------------------------------------------------------

    def first_ac(self, kind: ACType) -> CryptogramResponse:
        """First GENERATE AC asking ``kind`` (ARQC online, TC offline, AAC to decline)."""
        self.cdol1_data = build_dol(self._card().cdol1, self.values)
        self.first = self.client.generate_ac(kind, self.cdol1_data)
        return self.first

    def authorisation_request(self) -> AuthorisationRequest:
        if self.first is None or self.options is None:
            raise POSUsageError("no ARQC yet: call first_ac() first")
        try:
            return AuthorisationRequest.from_transaction(self._card(), self.options.aip,
                                                         self.cdol1_data, self.first)
        except PaymentError as exc:
            raise CardDataError(f"cannot build the authorisation request: {exc}") from None

    def advice_request(self) -> AuthorisationRequest:
        """What an advice of this transaction carries: the first GENERATE AC's cryptogram
        (a TC when the card approved offline) and the CDOL1 data it covers."""
        if self.first is None or self.options is None:
            raise POSUsageError("no cryptogram yet: call first_ac() first")
        card = self._card()
        return AuthorisationRequest(card.pan, card.psn, self.first.atc, self.first.cryptogram,
                                    self.cdol1_data, self.options.aip, self.first.iad,
                                    self.txn.amount, self.terminal.currency)

    def complete_online(self, response: AuthorisationResponse) -> OnlineCompletion:
        """Give the card the issuer's answer, run its scripts, ask the final cryptogram."""
        if self.options is None:
            raise POSUsageError("the application is not open")
        authenticated = None
        if self.options.issuer_authentication_supported:
            authenticated = self.client.external_authenticate(response.issuer_authentication_data)
            if not authenticated:  # EMV Book 3 §10.9: the second GENERATE AC is told
                self.values[0x95] = set_bits(self.values[0x95],
                                             TVRBit.ISSUER_AUTHENTICATION_FAILED)
        scripts = self.client.apply_scripts(response.scripts, BEFORE_SECOND_AC)
        self.values[0x8A] = response.arc
        self.values[0x91] = response.issuer_authentication_data
        wanted = ACType.TC if response.approved else ACType.AAC
        second = self._second_ac(wanted)
        scripts += self.client.apply_scripts(response.scripts, AFTER_SECOND_AC)
        return OnlineCompletion(second, authenticated, scripts, self.cdol2_data)

    def complete_unable_online(self) -> CryptogramResponse:
        """The issuer could not be reached (ARC Y3): the card decides offline."""
        self.values[0x8A] = ARC.OFFLINE_APPROVED
        self.values.pop(0x91, None)
        return self._second_ac(ACType.TC)

    def decline(self, arc: bytes = ARC.DECLINED) -> CryptogramResponse:
        """Close an ARQC the terminal will not take further (second GENERATE AC, AAC)."""
        self.values[0x8A] = arc
        return self._second_ac(ACType.AAC)

    def _second_ac(self, wanted: ACType) -> CryptogramResponse:
        self.cdol2_data = build_dol(self._card().cdol2, self.values)
        return self.client.generate_ac(wanted, self.cdol2_data)
