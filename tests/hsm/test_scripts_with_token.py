"""Issuer scripts keyed where the issuer's SMI/SMC master keys are (the key file or a fresh
token): the published script commands of the HSM-checked chain, and scripts the simulated
card accepts, in both suites."""

from __future__ import annotations

import pytest

from apdu_specs.apdu import CommandAPDU
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.cryptogram import VERSIONS
from apdu_specs.payment.pin_block import encode_pin_block
from apdu_specs.payment.script import split_script_command
from apdu_specs.sw import SW
from host.hsm.issuer import ProviderIssuer
from host.payment.client import PaymentClient
from host.payment.issuer import AuthorisationRequest, Issuer
from host.payment.scripts import application_unblock, pin_change, set_credit_limit
from tests.payment.cards import CREDIT, DEBIT, VECTOR_IMK, chip1, personalised_card, tdes
from tests.payment.test_payment_scripts import online
from tests.payment.test_payment_vectors import (  # noqa: F401 (vector_card is a fixture)
    VECTOR_CDOL1_DATA,
    VECTOR_PAN,
    VECTOR_PIN_CHANGE,
    VECTOR_UNBLOCK,
    _start,
    vector_card,
)

from .conftest import MakeProvider


def _issuer(make_provider: MakeProvider, algorithm: Algorithm) -> ProviderIssuer:
    keys = {"emv_ac": VECTOR_IMK.ac, "emv_smi": VECTOR_IMK.smi, "emv_smc": VECTOR_IMK.smc}
    return ProviderIssuer(make_provider({n: (algorithm, v) for n, v in keys.items()}))


def test_the_published_script_commands(make_provider: MakeProvider, vector_card) -> None:  # noqa: F811
    """The chain's APPLICATION UNBLOCK and PIN CHANGE, MACed (retail MAC under SK-SMI) and
    the new PIN enciphered (under SK-SMC) where the keys are; the card takes both."""
    _, client = vector_card
    _start(client)
    first = client.generate_ac(ACType.ARQC, VECTOR_CDOL1_DATA)
    request = AuthorisationRequest(VECTOR_PAN, "00", first.atc, first.cryptogram,
                                   VECTOR_CDOL1_DATA, bytes.fromhex("1800"), first.iad, 4000, 124)
    with _issuer(make_provider, Algorithm.TDES).script_session(request) as session:
        assert application_unblock(session) == VECTOR_UNBLOCK
        assert pin_change(session, "9999") == VECTOR_PIN_CHANGE
    assert client.send_script_command(VECTOR_UNBLOCK).ok
    assert client.send_script_command(VECTOR_PIN_CHANGE).ok


@pytest.mark.parametrize("suite", ["AES", "3DES"])
def test_scripts_agree_with_the_key_values_and_the_card_takes_them(
        make_provider: MakeProvider, suite: str) -> None:
    algorithm = Algorithm.AES if suite == "AES" else Algorithm.TDES
    credit = CREDIT if suite == "AES" else tdes(CREDIT)
    client = PaymentClient(chip1(personalised_card(DEBIT, credit)))
    request = online(client, credit.application_aid)
    issuer = _issuer(make_provider, algorithm)
    with issuer.script_session(request) as session, \
            Issuer(VECTOR_IMK).script_session(request) as reference:
        assert set_credit_limit(session, 5_000_000) == set_credit_limit(reference, 5_000_000)
        assert session.encipher(encode_pin_block("4321")) == \
            reference.encipher(encode_pin_block("4321"))
        command = set_credit_limit(session, 5_000_000)
    assert client.send_script_command(command).ok
    assert client.read_counters().credit_limit == 5_000_000
    forged = bytearray(command)
    forged[-1] ^= 1
    assert client.send_script_command(bytes(forged)).sw == SW.SM_DATA_OBJECTS_INCORRECT


def test_a_pin_change_enciphered_in_the_token_deciphers_on_the_card_side(
        make_provider: MakeProvider) -> None:
    client = PaymentClient(chip1(personalised_card()))
    request = online(client, DEBIT.application_aid)
    version = VERSIONS[0x22]
    with _issuer(make_provider, Algorithm.AES).script_session(request) as session:
        command = pin_change(session, "2468")
    reference = Issuer(VECTOR_IMK).script_session(request)
    _, data, _ = split_script_command(CommandAPDU.parse(command))
    assert version.decipher(reference.sk_smc, data) == encode_pin_block("2468")  # type: ignore[attr-defined]


def test_an_online_credit_sale_carries_a_limit_script_keyed_in_the_provider(
        make_provider: MakeProvider) -> None:
    """``authorise(scripts_after=…)``: the credit-granting unit's PUT DATA, keyed in the
    provider and closed with the response."""
    client = PaymentClient(chip1(personalised_card()))
    request = online(client, CREDIT.application_aid)
    issuer = _issuer(make_provider, Algorithm.AES)
    response = issuer.authorise(request, scripts_after=[lambda s: set_credit_limit(s, 123_456)])
    reference = Issuer(VECTOR_IMK).authorise(request, scripts_after=[
        lambda s: set_credit_limit(s, 123_456)])
    assert response.scripts == reference.scripts and len(response.scripts) == 1
    [command] = response.scripts[0].commands
    assert client.send_script_command(command).ok
    assert client.read_counters().credit_limit == 123_456


def test_script_session_keys_are_destroyed_when_it_closes(token_uri) -> None:
    """Nothing of a script session is left in the token once it is closed."""
    from pkcs11 import Attribute, ObjectClass

    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.keystore import MasterKey
    from host.testing.softhsm import USER_PIN

    client = PaymentClient(chip1(personalised_card()))
    request = online(client, DEBIT.application_aid)
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as token:
        for name, value in (("emv_ac", VECTOR_IMK.ac), ("emv_smi", VECTOR_IMK.smi),
                            ("emv_smc", VECTOR_IMK.smc)):
            import_key(token, MasterKey(name, Algorithm.AES, value))

        def session_keys() -> int:
            return len(list(token.session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                                       Attribute.TOKEN: False})))

        session = ProviderIssuer(token).script_session(request)
        assert session_keys() == 2  # SK-SMI and SK-SMC (AES: no left half)
        set_credit_limit(session, 1)
        session.close()
        assert session_keys() == 0
