"""The issuer host: verify the ARQC, decide, answer with an ARPC and issuer scripts.

What a back office or an acquirer simulator calls with an :class:`AuthorisationRequest`
(built by the terminal from the card's answers). :meth:`Issuer.authorise` verifies the
ARQC with keys derived from the issuer master keys (the CVN in 9F10 names the
method), applies the :class:`AuthorisationPolicy` and returns the ARC, the issuer
authentication data for tag 91 (ARPC method 1 or 2) and any scripts, already keyed
with this transaction's session keys. A request whose ARQC does not verify raises
:class:`~host.payment.errors.ARQCError`: never answer a cryptogram you cannot check.

The issuer decides on what the cryptogram covers, never on what the terminal writes beside
it: the amount, currency and date come from the CDOL1 data cut by the issuer's *own* record
of the card's CDOL1 (the layout it personalised, :data:`host.payment.perso.CDOL1`), and a
request whose clear ``amount`` or ``currency`` disagree with them is refused
(:class:`~host.payment.errors.RequestMismatchError`): a terminal that sends ``amount=100``
beside a cryptogram over 30,000.00 is lying, and the card would give a TC for 30,000.00.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from apdu_specs.crypto.ciphers import BlockCipher
from apdu_specs.crypto.errors import CryptogramError
from apdu_specs.errors import ProtocolError
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.bcd import decode_numeric
from apdu_specs.payment.cryptogram import CryptogramVersion, IssuerMasterKeys, version_for
from apdu_specs.payment.iad import IssuerApplicationData
from apdu_specs.payment.issuer_response import (
    ARC,
    ARPCMethod,
    CardStatusUpdate,
    IssuerAuthenticationData,
)
from apdu_specs.payment.script import (
    AFTER_SECOND_AC,
    BEFORE_SECOND_AC,
    IssuerScript,
    ScriptKeying,
    ScriptSession,
)
from apdu_specs.tlv import parse_dol, split_dol_data

from .card_data import CardData
from .client import CryptogramResponse
from .errors import ARQCError, CardDataError, RequestMismatchError
from .perso import CDOL1
from .scripts import ScriptOrder

__all__ = [
    "AuthorisationPolicy",
    "AuthorisationRequest",
    "AuthorisationResponse",
    "CoveredFacts",
    "Decision",
    "Issuer",
]


@dataclass(frozen=True)
class AuthorisationRequest:
    """What the terminal sends online: card identity, the ARQC and the data it covers."""

    pan: str
    psn: str
    atc: int
    arqc: bytes
    cdol1_data: bytes
    aip: bytes
    iad: bytes
    amount: int
    currency: int

    @classmethod
    def from_transaction(cls, card: CardData, aip: bytes, cdol1_data: bytes,
                         first: CryptogramResponse) -> AuthorisationRequest:
        if first.kind is not ACType.ARQC:
            raise CardDataError(f"the card answered {first.kind.name}, not an ARQC")
        try:
            values = split_dol_data(card.cdol1, cdol1_data)
            amount = decode_numeric(values[0x9F02])
            currency = decode_numeric(values[0x5F2A])
        except (ProtocolError, KeyError) as exc:
            raise CardDataError(f"CDOL1 data lacks a readable amount or currency: {exc}") from None
        return cls(card.pan, card.psn, first.atc, first.cryptogram, cdol1_data, aip, first.iad,
                   amount, currency)


@dataclass(frozen=True)
class CoveredFacts:
    """What the application cryptogram covers, cut from the CDOL1 data by the issuer's own
    CDOL1: the only amounts, currency and date an issuer or back office may act on."""

    amount: int  #: 9F02, minor units
    other_amount: int  #: 9F03 (cashback), minor units
    currency: int  #: 5F2A, ISO 4217 numeric
    date: dt.date | None  #: 9A, the terminal's transaction date (None: not a calendar date)
    transaction_type: int  #: 9C

    @classmethod
    def from_cdol1_data(cls, data: bytes, cdol1: bytes = CDOL1) -> CoveredFacts:
        """Cut ``data`` by ``cdol1`` (encoded DOL); :class:`CardDataError` if it does not fit."""
        try:
            values = split_dol_data(parse_dol(cdol1), data)
            return cls(decode_numeric(values[0x9F02]), decode_numeric(values[0x9F03]),
                       decode_numeric(values[0x5F2A]), _yymmdd(values[0x9A]),
                       decode_numeric(values[0x9C]))
        except (ProtocolError, KeyError) as exc:
            raise CardDataError(f"CDOL1 data does not fit the issuer's CDOL1: {exc}") from None


def _yymmdd(field: bytes) -> dt.date | None:
    """EMV n6 date (9A) as a date; None for BCD that names no day (e.g. 000000)."""
    yymmdd = decode_numeric(field)
    try:
        return dt.date(2000 + yymmdd // 10000, yymmdd // 100 % 100, yymmdd % 100)
    except ValueError:
        return None


class Decision(Enum):
    APPROVE = "approve"
    DECLINE = "decline"
    REFERRAL = "referral"

    @property
    def arc(self) -> bytes:
        return {Decision.APPROVE: ARC.APPROVED, Decision.DECLINE: ARC.DECLINED,
                Decision.REFERRAL: ARC.REFERRAL}[self]


@dataclass(frozen=True)
class AuthorisationPolicy:
    """Approve up to ``approve_up_to``, refer up to ``refer_up_to``, decline above.

    A blocked application is always declined; so is a currency other than ``currency`` (when
    set) and a transaction dated more than ``max_date_skew_days`` from the issuer's day.
    ``None`` means no limit. Every rule reads :class:`CoveredFacts`, never the request.
    """

    approve_up_to: int | None = None
    refer_up_to: int | None = None
    currency: int | None = None
    max_date_skew_days: int = 1

    def decide(self, facts: CoveredFacts, iad: IssuerApplicationData, *,
               today: dt.date | None = None) -> tuple[Decision, str]:
        """The decision on a verified cryptogram's facts, and why (empty when approved)."""
        if iad.cvr.history.application_blocked:
            return Decision.DECLINE, "application blocked"
        if self.currency is not None and facts.currency != self.currency:
            return Decision.DECLINE, f"currency {facts.currency:03d} not accepted"
        if today is not None and (facts.date is None
                                  or abs((facts.date - today).days) > self.max_date_skew_days):
            return Decision.DECLINE, f"transaction dated {facts.date}, the issuer's day is {today}"
        return self.decide_amount(facts.amount + facts.other_amount)

    def decide_amount(self, amount: int) -> tuple[Decision, str]:
        """The limits alone (also what a swiped stripe, with no cryptogram, is held to)."""
        if self.approve_up_to is None or amount <= self.approve_up_to:
            return Decision.APPROVE, ""
        if self.refer_up_to is not None and amount <= self.refer_up_to:
            return Decision.REFERRAL, "above the approval limit"
        return Decision.DECLINE, "above the issuer's limit"


@dataclass(frozen=True)
class AuthorisationResponse:
    decision: Decision
    arc: bytes
    issuer_authentication_data: bytes
    scripts: tuple[IssuerScript, ...] = ()
    #: what the verified cryptogram covers (what the decision was taken on)
    facts: CoveredFacts | None = None
    reason: str = ""

    @property
    def approved(self) -> bool:
        return self.decision is Decision.APPROVE


#: how many cards' AC master keys an issuer keeps (the cards answered lately)
_AC_KEYS_KEPT = 64


class Issuer:
    """One issuer's online authorisation for chip 1's applications."""

    def __init__(self, keys: IssuerMasterKeys | None, *,
                 policy: AuthorisationPolicy | None = None,
                 arpc_method: ARPCMethod = ARPCMethod.METHOD_2, cdol1: bytes = CDOL1) -> None:
        self._keys = keys
        self.policy = policy or AuthorisationPolicy()
        self.arpc_method = arpc_method
        self.cdol1 = cdol1  #: the CDOL1 this issuer personalised (encoded DOL)
        #: the AC master keys of the cards it answered last, each as a cipher ready to use
        #: (the issuer's own derivations, kept with its master keys: an ARQC and its ARPC
        #: derive their session key with the same one, and a throw-away context per
        #: derivation cost more than the derivation)
        self._ac_keys: OrderedDict[tuple[int, str, str], BlockCipher] = OrderedDict()

    def __repr__(self) -> str:
        return f"Issuer(ARPC method {self.arpc_method.value}, {self.policy})"

    def _version_and_iad(self, request: AuthorisationRequest) -> tuple[CryptogramVersion,
                                                                          IssuerApplicationData]:
        try:
            iad = IssuerApplicationData.decode(request.iad)
            return version_for(iad.cvn), iad
        except ProtocolError as exc:
            raise ARQCError(f"issuer application data not understood: {exc}") from None

    def _card_keys(self, version: CryptogramVersion, request: AuthorisationRequest) -> IssuerMasterKeys:
        """The card's master keys (``keys`` is None only for an issuer whose keys are in an
        HSM: it overrides every method that would come here)."""
        if self._keys is None:
            raise ARQCError("this issuer holds no key values (its keys are in an HSM)")
        return version.icc_master_keys(self._keys, request.pan, request.psn)

    def _ac_key(self, version: CryptogramVersion, request: AuthorisationRequest) -> BlockCipher:
        """The card's AC master key (EMV option A of the issuer's AC key), made once for the
        cards answered lately: the ARQC check and the ARPC of one request share it."""
        if self._keys is None:
            raise ARQCError("this issuer holds no key values (its keys are in an HSM)")
        entry = (version.cvn, request.pan, request.psn)
        keys = self._ac_keys
        key = keys.get(entry)
        if key is None:
            key = keys[entry] = BlockCipher(version.algorithm, version.icc_master_key(
                self._keys.cipher("ac", version.algorithm), request.pan, request.psn))
            if len(keys) > _AC_KEYS_KEPT:
                keys.popitem(last=False)
        return key

    def verify_arqc(self, request: AuthorisationRequest) -> IssuerApplicationData:
        """The card's issuer application data, once its ARQC verified; ARQCError otherwise."""
        return self._verified(request)[1]

    def _verified(self, request: AuthorisationRequest) -> tuple[CryptogramVersion,
                                                                IssuerApplicationData]:
        """:meth:`verify_arqc`, with the cryptogram version the card's IAD names."""
        version, iad = self._version_and_iad(request)
        data = version.ac_input(request.cdol1_data, request.aip, request.atc, request.iad)
        try:
            self._verify_cryptogram(version, request, request.atc, data, request.arqc)
        except CryptogramError:
            raise ARQCError(f"ARQC of card {request.pan[:6]}… ATC {request.atc:04X} "
                            "does not verify") from None
        return version, iad

    def _verify_cryptogram(self, version: CryptogramVersion, request: AuthorisationRequest,
                           atc: int, data: bytes, cryptogram: bytes) -> None:
        """Raise CryptogramError unless ``cryptogram`` is the card's at ``atc`` over ``data``
        (the seam where an issuer whose keys are in an HSM computes there instead)."""
        sk = version.ac_session_key(self._ac_key(version, request), atc)
        version.verify_application_cryptogram(sk, data, cryptogram)

    def covered_facts(self, request: AuthorisationRequest) -> CoveredFacts:
        """The amount, currency and date of the request's CDOL1 data, cut by the issuer's own
        CDOL1; :class:`RequestMismatchError` if the clear fields say otherwise."""
        try:
            facts = CoveredFacts.from_cdol1_data(request.cdol1_data, self.cdol1)
        except CardDataError as exc:
            raise RequestMismatchError(str(exc)) from None
        if (request.amount, request.currency) != (facts.amount, facts.currency):
            raise RequestMismatchError(
                f"the request says amount {request.amount} currency {request.currency:03d}, "
                f"the cryptogram covers amount {facts.amount} currency {facts.currency:03d}")
        return facts

    def verify_second_cryptogram(self, request: AuthorisationRequest, second: CryptogramResponse,
                                 cdol2_data: bytes) -> None:
        """Check the TC or AAC of the second GENERATE AC (clearing); ARQCError if wrong."""
        version, _ = self._version_and_iad(request)
        data = version.ac_input(request.cdol1_data, request.aip, second.atc, second.iad, cdol2_data)
        try:
            self._verify_cryptogram(version, request, second.atc, data, second.cryptogram)
        except CryptogramError:
            raise ARQCError(f"second cryptogram of ATC {second.atc:04X} does not verify") from None

    def issuer_authentication_data(self, request: AuthorisationRequest, decision: Decision, *,
                                   method: ARPCMethod | None = None,
                                   csu: CardStatusUpdate | None = None) -> bytes:
        """Tag 91's value for ``decision`` (method 1 over the ARC, method 2 over the CSU)."""
        return self._answer_data(self._version_and_iad(request)[0], request, decision, method,
                                 csu)

    def _answer_data(self, version: CryptogramVersion, request: AuthorisationRequest,
                     decision: Decision, method: ARPCMethod | None,
                     csu: CardStatusUpdate | None) -> bytes:
        """:meth:`issuer_authentication_data` under ``version`` (the IAD decoded once)."""
        method = method or self.arpc_method
        if method is ARPCMethod.METHOD_2 and csu is None:
            csu = CardStatusUpdate(approved=decision is Decision.APPROVE)
        return self._authentication(version, request, method, decision.arc, csu).encode()

    def _authentication(self, version: CryptogramVersion, request: AuthorisationRequest,
                        method: ARPCMethod, arc: bytes, csu: CardStatusUpdate | None
                        ) -> IssuerAuthenticationData:
        """Tag 91 under the card's AC session key (the seam an HSM-backed issuer fills)."""
        sk = version.ac_session_key(self._ac_key(version, request), request.atc)
        return version.issuer_authentication(sk, request.arqc, method, arc=arc, csu=csu)

    def script_session(self, request: AuthorisationRequest) -> ScriptKeying:
        """The secure-messaging session of this ARQC (what every script command is keyed
        with; close it when done, as :meth:`authorise` does)."""
        version, _ = self._version_and_iad(request)
        mk = self._card_keys(version, request)
        return ScriptSession(version, version.sm_session_key(mk.smi, request.arqc),
                             version.sm_session_key(mk.smc, request.arqc), request.atc,
                             request.arqc)

    def authorise(self, request: AuthorisationRequest, *,
                  scripts_before: Sequence[ScriptOrder] = (),
                  scripts_after: Sequence[ScriptOrder] = (),
                  method: ARPCMethod | None = None,
                  csu: CardStatusUpdate | None = None,
                  today: dt.date | None = None) -> AuthorisationResponse:
        """Verify, decide and answer; scripts run before (71) / after (72) the second GENERATE AC.

        The decision is taken on the facts the ARQC covers (:meth:`covered_facts`), on the
        issuer's day ``today`` when given."""
        version, iad = self._verified(request)  # the IAD decoded once for the check and ARPC
        facts = self.covered_facts(request)
        decision, reason = self.policy.decide(facts, iad, today=today)
        data = self._answer_data(version, request, decision, method, csu)
        scripts: list[IssuerScript] = []
        if scripts_before or scripts_after:
            with self.script_session(request) as session:
                for template, orders in ((BEFORE_SECOND_AC, scripts_before),
                                         (AFTER_SECOND_AC, scripts_after)):
                    if orders:
                        scripts.append(IssuerScript(tuple(o(session) for o in orders), template))
        return AuthorisationResponse(decision, decision.arc, data, tuple(scripts), facts, reason)
