"""Genuine ARQCs of the sample card, as many as a load test needs, without a card per request.

:func:`sample_request` reads the simulated sample card once (chip 1 opened, PIN verified,
an ARQC asked for); :func:`genuine_requests` then computes, with the sample card's own
keys, the requests the card would have made for other unpredictable numbers: each one a
fresh ARQC the issuer verifies, answers once and records once.
"""

from __future__ import annotations

import datetime as dt

from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.cryptogram import version_for
from apdu_specs.payment.iad import IssuerApplicationData
from host.payment.client import PaymentClient
from host.payment.issuer import AuthorisationRequest
from host.payment.terminal import TerminalProfile, TransactionData
from host.pos.chip_payment import ChipPayment
from host.pos.link import PaymentMethod
from host.transport.sim import sim_transports
from host.transport.t0 import T0Transport

from .personalise import SAMPLE, sample_card

__all__ = ["genuine_requests", "sample_request"]


def sample_request(amount: int, day: dt.date) -> AuthorisationRequest:
    """One genuine debit request of the sample card for ``amount`` on ``day``."""
    chip1 = T0Transport(sim_transports(sample_card())[0])
    chip1.connect()
    chip = ChipPayment(PaymentClient(chip1), TerminalProfile(),
                       TransactionData(amount, bytes(4), day))
    chip.open(method=PaymentMethod.DEBIT)
    chip.verify_pin("1234")
    chip.first_ac(ACType.ARQC)
    return chip.authorisation_request()


def genuine_requests(template: AuthorisationRequest, count: int,
                     first: int) -> list[AuthorisationRequest]:
    """``count`` requests like ``template``, the unpredictable numbers ``first``,
    ``first + 1``, …: each with its own ARQC, computed as the card computes it."""
    version = version_for(IssuerApplicationData.decode(template.iad).cvn)
    mk = version.icc_master_key(SAMPLE.payment_keys.emv.ac, template.pan, template.psn)
    sk = version.ac_session_key(mk, template.atc)
    out = []
    for n in range(first, first + count):
        cdol1 = template.cdol1_data[:-4] + n.to_bytes(4, "big")
        arqc = version.application_cryptogram(
            sk, version.ac_input(cdol1, template.aip, template.atc, template.iad))
        out.append(AuthorisationRequest(template.pan, template.psn, template.atc, arqc, cdol1,
                                        template.aip, template.iad, template.amount,
                                        template.currency))
    return out
