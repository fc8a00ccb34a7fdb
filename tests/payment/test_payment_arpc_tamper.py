"""A tag 91 altered in any bit never authenticates the issuer.

The card checks the ARPC over the issuer authentication data exactly as received: the
ARC (method 1), or the CSU and the proprietary data (method 2), bits it does not
interpret included. For AES (CVN 22) and 3DES (CVN 12) cards, ARPC method 1 and 2,
tag 91 in EXTERNAL AUTHENTICATE or only in the second GENERATE AC's CDOL2 data, every
single-bit flip and random multi-bit masks of a genuine approving tag 91 must end in a
failed issuer authentication (EXTERNAL AUTHENTICATE 6300, CVR "issuer authentication
failed", the failure remembered for the next transaction's CVR) and an AAC where the
genuine tag 91 gives a TC. The terminal that saw 6300 sets "issuer authentication failed"
in the TVR of the second GENERATE AC's CDOL2 data; a terminal that sent tag 91 only in
the CDOL2 data never learns the outcome and leaves the bit clear, as after a genuine 91.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.cryptogram import AES_CVN, TDES_CVN, version_for
from apdu_specs.payment.issuer_response import ARPCMethod, CardStatusUpdate
from apdu_specs.payment.tvr import TVRBit, bits_set
from apdu_specs.tlv import split_dol_data
from host.payment.client import PaymentClient
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse, Issuer
from host.payment.profile import ApplicationProfile
from host.payment.purchase import PurchaseOutcome, run_purchase
from tests.payment.cards import DEBIT, VECTOR_IMK, chip1, personalised_card

DAY = dt.date(2025, 3, 14)
UN = bytes.fromhex("A1B2C3D4")
AMOUNT = 12_34
AIP_WITH_ISSUER_AUTHENTICATION = bytes.fromhex("1C00")  # the terminal sends EXTERNAL AUTHENTICATE
AIP_WITHOUT = bytes.fromhex("1800")  # tag 91 travels only in the CDOL2 data
PROPRIETARY = bytes.fromhex("0102030405060708")

Tamper = Callable[[bytes], bytes]


def _issuer_authentication_failed_in_tvr(outcome: PurchaseOutcome) -> bool:
    """Does the TVR the terminal sent with the second GENERATE AC say so?"""
    tvr = split_dol_data(outcome.card.cdol2, outcome.cdol2_data)[0x95]
    return TVRBit.ISSUER_AUTHENTICATION_FAILED in bits_set(tvr)


@dataclass(frozen=True)
class Config:
    cvn: int
    method: ARPCMethod
    external_authenticate: bool
    proprietary: bytes = b""  #: method 2's proprietary authentication data in the genuine 91

    @property
    def name(self) -> str:
        algorithm = "AES" if self.cvn == AES_CVN else "3DES"
        where = "EXTERNAL-AUTHENTICATE" if self.external_authenticate else "CDOL2"
        extra = f"+{len(self.proprietary)}B-proprietary" if self.proprietary else ""
        return f"{algorithm}-method{self.method.value}{extra}-{where}"

    def profile(self) -> ApplicationProfile:
        aip = AIP_WITH_ISSUER_AUTHENTICATION if self.external_authenticate else AIP_WITHOUT
        return replace(DEBIT, cvn=self.cvn, arpc_method=self.method, aip=aip)


CONFIGS = [Config(cvn, method, external)
           for cvn in (AES_CVN, TDES_CVN) for method in ARPCMethod for external in (True, False)]
# proprietary data fits EXTERNAL AUTHENTICATE only (the CDOL2 entry has the method's base length)
CONFIGS += [Config(cvn, ARPCMethod.METHOD_2, True, PROPRIETARY) for cvn in (AES_CVN, TDES_CVN)]


class Terminal:
    """One card of a configuration and its issuer; purchases that go online."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.client = PaymentClient(chip1(personalised_card(config.profile())))
        self.issuer = Issuer(VECTOR_IMK, arpc_method=config.method)
        self.genuine_91 = b""

    def _issuer_data(self, request: AuthorisationRequest, response: AuthorisationResponse) -> bytes:
        if not self.config.proprietary:
            return response.issuer_authentication_data
        version = version_for(self.config.cvn)
        mk = version.icc_master_keys(VECTOR_IMK, request.pan, request.psn)
        sk = version.ac_session_key(mk.ac, request.atc)
        csu = CardStatusUpdate(approved=True, proprietary_data_included=True)
        return version.issuer_authentication(sk, request.arqc, ARPCMethod.METHOD_2, csu=csu,
                                             proprietary=self.config.proprietary).encode()

    def purchase(self, tamper: Tamper | None = None) -> PurchaseOutcome:
        def authorise(request: AuthorisationRequest) -> AuthorisationResponse:
            response = self.issuer.authorise(request)
            assert response.approved  # the genuine answer approves
            self.genuine_91 = self._issuer_data(request, response)
            sent = tamper(self.genuine_91) if tamper else self.genuine_91
            return replace(response, issuer_authentication_data=sent)

        return run_purchase(self.client, AMOUNT, authoriser=authorise, unpredictable_number=UN,
                            date=DAY)

    def assert_genuine_approves(self) -> PurchaseOutcome:
        outcome = self.purchase()
        assert outcome.first.kind is ACType.ARQC and outcome.final.kind is ACType.TC
        assert outcome.issuer_authenticated is (True if self.config.external_authenticate
                                                else None)
        assert not outcome.second.issuer_application_data.cvr.issuer_auth_failed
        assert not _issuer_authentication_failed_in_tvr(outcome)
        return outcome

    def assert_refused(self, tamper: Tamper, what: str) -> None:
        outcome = self.purchase(tamper)
        assert tamper(self.genuine_91) != self.genuine_91
        assert outcome.first.kind is ACType.ARQC, what
        assert outcome.final.kind is ACType.AAC and not outcome.approved, what
        # 6300 sets the TVR bit; without EXTERNAL AUTHENTICATE the terminal cannot know
        assert outcome.issuer_authenticated is (False if self.config.external_authenticate
                                                else None), what
        assert _issuer_authentication_failed_in_tvr(outcome) is \
            self.config.external_authenticate, what
        assert outcome.second.issuer_application_data.cvr.issuer_auth_failed, what
        # ... and remembered: the next genuine transaction reports it in its CVR, and approves
        following = self.assert_genuine_approves()
        assert following.first.issuer_application_data.cvr.history.issuer_auth_failed_last, what


def _flip(mask: int) -> Tamper:
    def tamper(data: bytes) -> bytes:
        return (int.from_bytes(data, "big") ^ mask).to_bytes(len(data), "big")
    return tamper


def _length(config: Config) -> int:
    return config.method.data_length + len(config.proprietary)


_terminals: dict[Config, Terminal] = {}


def _terminal(config: Config) -> Terminal:
    """One card per configuration for the whole module (personalising is the slow part)."""
    if config not in _terminals:
        _terminals[config] = Terminal(config)
    return _terminals[config]


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_single_bit_flip_is_refused(config: Config) -> None:
    terminal = _terminal(config)
    terminal.assert_genuine_approves()
    bits = _length(config) * 8
    for bit in range(bits):
        terminal.assert_refused(_flip(1 << (bits - 1 - bit)), f"bit {bit} of tag 91 flipped")


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_masks_are_refused(config: Config, data: st.DataObject) -> None:
    bits = _length(config) * 8
    mask = data.draw(st.integers(1, (1 << bits) - 1), label="mask")
    _terminal(config).assert_refused(_flip(mask), f"mask {mask:0{bits // 4}X}")


@pytest.mark.parametrize("cvn", [AES_CVN, TDES_CVN])
def test_a_csu_bit_the_card_does_not_interpret_is_still_authenticated(cvn: int) -> None:
    """An issuer may set a reserved CSU bit: MACed as sent, it authenticates (and means
    nothing to the card); the same bit added by someone else does not."""
    config = Config(cvn, ARPCMethod.METHOD_2, True)
    terminal = Terminal(config)
    version = version_for(cvn)
    reserved = bytes.fromhex("00000001")  # byte 4 b1: reserved in dualcard's CSU layout

    def reissue(request: AuthorisationRequest) -> AuthorisationResponse:
        response = terminal.issuer.authorise(request)
        mk = version.icc_master_keys(VECTOR_IMK, request.pan, request.psn)
        sk = version.ac_session_key(mk.ac, request.atc)
        csu = bytes(a | b for a, b in zip(CardStatusUpdate(approved=True).encode(), reserved,
                                          strict=True))
        arpc = version.scheme.arpc_method2(sk, request.arqc, csu)
        return replace(response, issuer_authentication_data=arpc + csu)

    outcome = run_purchase(terminal.client, AMOUNT, authoriser=reissue, unpredictable_number=UN,
                           date=DAY)
    assert outcome.issuer_authenticated is True and outcome.final.kind is ACType.TC
