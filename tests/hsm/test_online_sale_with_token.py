"""A POS online sale whose ARQC is verified and ARPC made where the issuer's AC master key
is (the key file or a fresh token), against the simulated card."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.magstripe.discretionary import DiscretionaryData
from apdu_specs.magstripe.tracks import Track2
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.issuer_response import ARPCMethod
from host.hsm.issuer import ProviderIssuer
from host.payment.client import PaymentClient
from host.payment.errors import ARQCError
from host.payment.issuer import Issuer
from host.payment.purchase import run_purchase
from tests.payment.cards import CREDIT, DEBIT, VECTOR_IMK, chip1, personalised_card, tdes

from .conftest import MakeProvider

DAY = dt.date(2025, 3, 14)
UN = bytes.fromhex("A1B2C3D4")


@pytest.mark.parametrize("suite", ["AES", "3DES"])
@pytest.mark.parametrize("method", [ARPCMethod.METHOD_1, ARPCMethod.METHOD_2])
def test_online_sale_approved_and_the_issuer_authenticated(
        make_provider: MakeProvider, suite: str, method: ARPCMethod) -> None:
    algorithm = Algorithm.AES if suite == "AES" else Algorithm.TDES
    debit = replace(DEBIT if suite == "AES" else tdes(DEBIT), arpc_method=method)
    client = PaymentClient(chip1(personalised_card(debit, CREDIT)))
    issuer = ProviderIssuer(make_provider({"emv_ac": (algorithm, VECTOR_IMK.ac)}),
                            arpc_method=method)
    sale = run_purchase(client, 1234, pin="1234", authoriser=issuer.authorise,
                        unpredictable_number=UN, date=DAY)
    assert sale.approved and sale.first.kind is ACType.ARQC
    assert sale.issuer_authenticated and sale.final.kind is ACType.TC
    issuer.verify_second_cryptogram(sale.request, sale.second, sale.cdol2_data)
    # the same answer, byte for byte, as the issuer computing with the key values
    reference = Issuer(VECTOR_IMK, arpc_method=method)
    decision = sale.response.decision
    assert issuer.issuer_authentication_data(sale.request, decision) == \
        reference.issuer_authentication_data(sale.request, decision)


def test_a_forged_arqc_is_refused(make_provider: MakeProvider) -> None:
    client = PaymentClient(chip1(personalised_card(DEBIT, CREDIT)))
    issuer = ProviderIssuer(make_provider({"emv_ac": (Algorithm.AES, VECTOR_IMK.ac)}))
    sale = run_purchase(client, 1234, pin="1234", authoriser=issuer.authorise,
                        unpredictable_number=UN, date=DAY)
    forged = type(sale.request)(**{**vars(sale.request), "arqc": bytes(8)})
    with pytest.raises(ARQCError, match="does not verify"):
        issuer.verify_arqc(forged)


def test_pay_purchase_goes_online_to_the_token(tmp_path, token_uri, monkeypatch) -> None:
    """``dualcard pay purchase --issuer-keys pkcs11:…``: the card's ARQC checked and its
    ARPC made in the token."""
    import json

    from click.testing import CliRunner

    from host.cli.pay_cmds import pay
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.keystore import MasterKey
    from host.testing.softhsm import USER_PIN

    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as token:
        import_key(token, MasterKey("emv_ac", Algorithm.AES, VECTOR_IMK.ac))
    path = tmp_path / "card.json"
    personalised_card().save(path)
    monkeypatch.setenv("DUALCARD_HSM_PIN", USER_PIN)
    result = CliRunner().invoke(pay, ["purchase", "--reader", f"sim:{path}", "--amount", "12.34",
                                      "--issuer-keys", f"pkcs11:token={token_uri.token}",
                                      "--json"], input="1234\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{"):])
    assert (out["approved"], out["online"], out["arc"], out["cryptogram"]) == \
        (True, True, "00", "TC")


def test_the_pvv_and_the_stripe_cvv_are_computed_where_the_keys_are(make_provider: MakeProvider
                                                                     ) -> None:
    """The service's authentication centre asks the issuer's keys for a PIN's PVV and a
    swiped track's CVV: the PVK and the CVK (with its left half) compute them where they are
    (domain-facts §6.4/6.5 sample keys); a track whose CVV is wrong is declined."""
    from apdu_specs.crypto.cvv import pvv
    from host.hsm.issuer import ProviderPaymentKeys
    from host.payment.stripe import encode_stripe
    from tests.payment.cards import CVK, KEYS, PVK

    keys = ProviderPaymentKeys(make_provider({"cvk": (Algorithm.TDES, CVK),
                                              "pvk": (Algorithm.TDES, PVK)}))
    for pin in ("1234", "0000", "9876"):
        assert keys.pvv("4123456789012345", "1", pin) == pvv(PVK, "4123456789012345", "1", pin)
    track = Track2.decode(encode_stripe(DEBIT, KEYS).track2, check_luhn=False)
    assert keys.stripe_refusal(track.encode()) is None
    assert keys.stripe_refusal(_with_cvv(track, "000")) == "the stripe's CVV does not verify"
    assert keys.checks.cvv(DEBIT.pan, DEBIT.expiry, "999") == KEYS.cvv(DEBIT.pan, DEBIT.expiry,
                                                                        "999")


def _with_cvv(track: Track2, value: str) -> str:
    """``track`` with its CVV replaced (the PVKI and PVV kept)."""
    data = DiscretionaryData.parse(track.discretionary)
    forged = replace(track, discretionary=replace(data, cvv=value).encode())
    assert forged.discretionary != track.discretionary
    return forged.encode()


def test_an_answer_derives_the_session_key_once_and_leaves_nothing(token_uri) -> None:
    """The ARQC's check and its ARPC share one AC session key, derived in the token and
    destroyed once the answer is made."""
    from pkcs11 import Attribute

    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.keystore import MasterKey
    from host.testing.softhsm import USER_PIN

    client = PaymentClient(chip1(personalised_card(DEBIT, CREDIT)))
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as token:
        import_key(token, MasterKey("emv_ac", Algorithm.AES, VECTOR_IMK.ac))
        issuer = ProviderIssuer(token)
        derived: list[object] = []
        derive = token.derive
        token.derive = lambda *a, **k: derived.append(a) or derive(*a, **k)  # type: ignore[method-assign]
        sale = run_purchase(client, 1234, pin="1234", authoriser=issuer.authorise,
                            unpredictable_number=UN, date=DAY)
        assert sale.approved and sale.issuer_authenticated
        assert len(derived) == 2  # the card's ICC master key, its session key (AES)
        assert not list(token.session.get_objects({Attribute.TOKEN: False}))
