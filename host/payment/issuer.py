"""The issuer host: verify the ARQC, decide, answer with an ARPC and issuer scripts.

What a back office or an acquirer simulator calls with an :class:`AuthorisationRequest`
(built by the terminal from the card's answers). :meth:`Issuer.authorise` verifies the
ARQC with keys derived from the issuer master keys (the CVN in 9F10 names the
method), applies the :class:`AuthorisationPolicy` and returns the ARC, the issuer
authentication data for tag 91 (ARPC method 1 or 2) and any scripts, already keyed
with this transaction's session keys. A request whose ARQC does not verify raises
:class:`~host.payment.errors.ARQCError`: never answer a cryptogram you cannot check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from apdu_specs.crypto.errors import CryptogramError
from apdu_specs.errors import ProtocolError
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.bcd import decode_numeric
from apdu_specs.payment.cryptogram import CryptogramVersion, IssuerMasterKeys, version_for
from apdu_specs.payment.iad import IssuerApplicationData
from apdu_specs.payment.issuer_response import ARC, ARPCMethod, CardStatusUpdate
from apdu_specs.payment.script import (
    AFTER_SECOND_AC,
    BEFORE_SECOND_AC,
    IssuerScript,
    ScriptSession,
)
from apdu_specs.tlv import split_dol_data

from .card_data import CardData
from .client import CryptogramResponse
from .errors import ARQCError, CardDataError
from .scripts import ScriptOrder

__all__ = [
    "AuthorisationPolicy",
    "AuthorisationRequest",
    "AuthorisationResponse",
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

    A blocked application is always declined. ``None`` means no limit.
    """

    approve_up_to: int | None = None
    refer_up_to: int | None = None

    def decide(self, request: AuthorisationRequest, iad: IssuerApplicationData) -> Decision:
        if iad.cvr.history.application_blocked:
            return Decision.DECLINE
        if self.approve_up_to is None or request.amount <= self.approve_up_to:
            return Decision.APPROVE
        if self.refer_up_to is not None and request.amount <= self.refer_up_to:
            return Decision.REFERRAL
        return Decision.DECLINE


@dataclass(frozen=True)
class AuthorisationResponse:
    decision: Decision
    arc: bytes
    issuer_authentication_data: bytes
    scripts: tuple[IssuerScript, ...] = ()

    @property
    def approved(self) -> bool:
        return self.decision is Decision.APPROVE


class Issuer:
    """One issuer's online authorisation for chip 1's applications."""

    def __init__(self, keys: IssuerMasterKeys, *, policy: AuthorisationPolicy | None = None,
                 arpc_method: ARPCMethod = ARPCMethod.METHOD_2) -> None:
        self._keys = keys
        self.policy = policy or AuthorisationPolicy()
        self.arpc_method = arpc_method

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
        return version.icc_master_keys(self._keys, request.pan, request.psn)

    def verify_arqc(self, request: AuthorisationRequest) -> IssuerApplicationData:
        """The card's issuer application data, once its ARQC verified; ARQCError otherwise."""
        version, iad = self._version_and_iad(request)
        mk = self._card_keys(version, request)
        sk = version.ac_session_key(mk.ac, request.atc)
        data = version.ac_input(request.cdol1_data, request.aip, request.atc, request.iad)
        try:
            version.verify_application_cryptogram(sk, data, request.arqc)
        except CryptogramError:
            raise ARQCError(f"ARQC of card {request.pan[:6]}… ATC {request.atc:04X} "
                            "does not verify") from None
        return iad

    def verify_second_cryptogram(self, request: AuthorisationRequest, second: CryptogramResponse,
                                 cdol2_data: bytes) -> None:
        """Check the TC or AAC of the second GENERATE AC (clearing); ARQCError if wrong."""
        version, _ = self._version_and_iad(request)
        mk = self._card_keys(version, request)
        sk = version.ac_session_key(mk.ac, second.atc)
        data = version.ac_input(request.cdol1_data, request.aip, second.atc, second.iad, cdol2_data)
        try:
            version.verify_application_cryptogram(sk, data, second.cryptogram)
        except CryptogramError:
            raise ARQCError(f"second cryptogram of ATC {second.atc:04X} does not verify") from None

    def issuer_authentication_data(self, request: AuthorisationRequest, decision: Decision, *,
                                   method: ARPCMethod | None = None,
                                   csu: CardStatusUpdate | None = None) -> bytes:
        """Tag 91's value for ``decision`` (method 1 over the ARC, method 2 over the CSU)."""
        version, _ = self._version_and_iad(request)
        mk = self._card_keys(version, request)
        sk = version.ac_session_key(mk.ac, request.atc)
        method = method or self.arpc_method
        if method is ARPCMethod.METHOD_2 and csu is None:
            csu = CardStatusUpdate(approved=decision is Decision.APPROVE)
        return version.issuer_authentication(sk, request.arqc, method, arc=decision.arc,
                                             csu=csu).encode()

    def script_session(self, request: AuthorisationRequest) -> ScriptSession:
        """The secure-messaging session of this ARQC (what every script command is keyed with)."""
        version, _ = self._version_and_iad(request)
        mk = self._card_keys(version, request)
        return ScriptSession(version, version.sm_session_key(mk.smi, request.arqc),
                             version.sm_session_key(mk.smc, request.arqc), request.atc,
                             request.arqc)

    def authorise(self, request: AuthorisationRequest, *,
                  scripts_before: Sequence[ScriptOrder] = (),
                  scripts_after: Sequence[ScriptOrder] = (),
                  method: ARPCMethod | None = None,
                  csu: CardStatusUpdate | None = None) -> AuthorisationResponse:
        """Verify, decide and answer; scripts run before (71) / after (72) the second GENERATE AC."""
        iad = self.verify_arqc(request)
        decision = self.policy.decide(request, iad)
        data = self.issuer_authentication_data(request, decision, method=method, csu=csu)
        scripts: list[IssuerScript] = []
        if scripts_before or scripts_after:
            session = self.script_session(request)
            for template, orders in ((BEFORE_SECOND_AC, scripts_before),
                                     (AFTER_SECOND_AC, scripts_after)):
                if orders:
                    scripts.append(IssuerScript(tuple(o(session) for o in orders), template))
        return AuthorisationResponse(decision, decision.arc, data, tuple(scripts))
