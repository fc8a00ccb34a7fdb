"""Published EMV vectors through the issuer functions and through chip 1's application.

Sources (values copied, not read at run time):

- V27, V29, V31, V32, V33: knovichikhin/pyemv kd.py / ac.py docstrings and its
  HSM-checked tests (tests/test_ac_hsm.py), recomputed with ``cryptography``.
- The complete chain "Visa CVN 22" of knovichikhin/pyemv tests/test_cvn_hsm.py
  (HSM-checked): issuer master keys AC/SMI/SMC, PAN 1234567890123456, PSN 00,
  ICC master key KCVs BAB0/F010/B154, ATC 001C, AC session key KCV 22C8, ARQC
  7A788EA6B8A3E733 over the recommended CDOL1 data ‖ AIP 1800 ‖ ATC ‖ IAD
  06011203A0B800, ARPC method 2 (CSU 00000000) 9AF514C1, SK-SMI (R = ARQC) KCV
  7A15, APPLICATION UNBLOCK MAC A4805748F846D851 and a PIN CHANGE (P2 02) command
  setting PIN 9999. Chip 1's 3DES cryptogram version (CVN 12) uses exactly these
  methods, so the card reproduces the chain byte for byte when its ATC and history
  are brought to the vector's state (the CVR 03A0B800 of the vector is: first AC
  ARQC, second not requested; last online transaction not completed, velocity
  exceeded, new card, issuer authentication failed last time).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from apdu_specs.apdu import CommandAPDU
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.mac import cmac
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.cryptogram import AES_CVN, TDES_CVN, VERSIONS, IssuerMasterKeys
from apdu_specs.payment.issuer_response import ARPCMethod, CardStatusUpdate
from apdu_specs.payment.pin_block import encode_pin_block
from apdu_specs.payment.script import split_script_command
from host.payment.client import PaymentClient
from host.payment.issuer import AuthorisationRequest, Decision, Issuer
from host.payment.keys import IssuerKeys
from host.payment.perso import application_dgis
from host.payment.profile import ApplicationProfile, Product
from host.payment.terminal import TerminalProfile, build_dol
from tests.payment.cards import CVK, PVK, VECTOR_IMK, chip1, personalised_card

h = bytes.fromhex
TDES = VERSIONS[TDES_CVN]
AES = VERSIONS[AES_CVN]

VECTOR_PAN = "1234567890123456"
VECTOR_CDOL1_DATA = h("000000004000" "000000000000" "0124" "8000048000" "0124" "191105" "01"
                      "52BF4585")
VECTOR_ARQC = h("7A788EA6B8A3E733")
VECTOR_IAD = h("06011203A0B800")
VECTOR_PIN_CHANGE = h("84240002181B2943BED3D298F9C75848D17317CD1D25B70F7E26613E5F")
VECTOR_UNBLOCK = h("8418000008A4805748F846D851")


def kcv2(key: bytes) -> str:
    return kcv(Algorithm.TDES, key, length=2).hex().upper()


# --- issuer functions ---------------------------------------------------------------------

def test_icc_master_key_option_a_v27() -> None:
    mk = TDES.icc_master_key(h("0123456789abcdeffedcba9876543210"), "12345678901234567", "01")
    assert mk == h("73AD54688CEF2934B0979857E3C719F1")


def test_session_key_v29() -> None:
    mk = h("0123456789abcdeffedcba9876543210")
    assert TDES.ac_session_key(mk, 0x001C) == h("E9FB384AF807B940FEDCEA613461B0C4")


def test_arqc_v31_and_arpc_v32_v33() -> None:
    sk = h("aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb")
    data = h("000000002000000000000000012400000080000124110309003804823e58000001")
    assert TDES.application_cryptogram(sk, data) == h("3B76CF10FECD8789")
    arqc = h("1234567890ABCDEF")
    m1 = TDES.issuer_authentication(sk, arqc, ARPCMethod.METHOD_1, arc=h("0000"))
    assert m1.arpc == h("F5E6F44147E2F1B0") and m1.encode() == h("F5E6F44147E2F1B00000")
    m2 = TDES.issuer_authentication(sk, arqc, ARPCMethod.METHOD_2, csu=CardStatusUpdate())
    assert m2.arpc == h("9308BEBC") and m2.encode() == h("9308BEBC00000000")


def test_issuer_key_chain_kcvs() -> None:
    mk = TDES.icc_master_keys(VECTOR_IMK, VECTOR_PAN, "00")
    assert [kcv2(k) for k in (mk.ac, mk.smi, mk.smc)] == ["BAB0", "F010", "B154"]
    assert kcv2(TDES.ac_session_key(mk.ac, 0x001C)) == "22C8"
    assert kcv2(TDES.sm_session_key(mk.smi, VECTOR_ARQC)) == "7A15"


def test_personalisation_carries_the_derived_keys() -> None:
    profile = ApplicationProfile(Product.DEBIT, VECTOR_PAN, "3012", "VECTOR/CARD", cvn=TDES_CVN,
                                 check_luhn=False)
    dgis = dict(application_dgis(profile, IssuerKeys(VECTOR_IMK, CVK, PVK)))
    keys = dgis[0x8000]
    assert [kcv2(keys[i:i + 16]) for i in (0, 16, 32)] == ["BAB0", "F010", "B154"]
    assert dgis[0x9000] == b"".join(kcv(Algorithm.TDES, keys[i:i + 16]) for i in (0, 16, 32))


# --- the chain through the card -------------------------------------------------------------

VECTOR_PROFILE = ApplicationProfile(
    Product.DEBIT, VECTOR_PAN, "3012", "VECTOR/CARD", cvn=TDES_CVN, dki=1, aip=h("1800"),
    currency=124, country=124, initial_atc=0x0019, lower_consecutive_offline=1,
    upper_consecutive_offline=5, pin="1234", arpc_method=ARPCMethod.METHOD_2, check_luhn=False)
CANADA = TerminalProfile(country=124, currency=124)


def _start(client: PaymentClient) -> None:
    fci = client.select_application(VECTOR_PROFILE.application_aid)
    client.get_processing_options(build_dol(fci.pdol, {0x9F1A: h("0124"), 0x5F2A: h("0124")}))


def _cdol2(arc: bytes, data91: bytes) -> bytes:
    return arc + data91 + h("8000048000") + h("52BF4585")


@pytest.fixture
def vector_card():
    card = personalised_card(VECTOR_PROFILE)
    client = PaymentClient(chip1(card))
    # ATC 001A: online, the ARPC is wrong, the transaction is declined.
    _start(client)
    assert client.generate_ac(ACType.ARQC, VECTOR_CDOL1_DATA).kind is ACType.ARQC
    assert client.external_authenticate(bytes(8)) is False
    assert client.generate_ac(ACType.TC, _cdol2(b"00", bytes(8))).kind is ACType.AAC
    # ATC 001B: online, abandoned before the second GENERATE AC.
    _start(client)
    assert client.generate_ac(ACType.ARQC, VECTOR_CDOL1_DATA).kind is ACType.ARQC
    return card, client


def test_card_reproduces_the_published_arqc(vector_card) -> None:
    card, client = vector_card
    _start(client)
    raw = card.chip1.transmit(h("80AE80001D") + VECTOR_CDOL1_DATA + b"\x00")
    assert raw == (h("771E9F2701809F3602001C9F2608") + VECTOR_ARQC + h("9F1007") + VECTOR_IAD
                   + h("9000"))


def test_issuer_verifies_it_and_the_card_accepts_the_published_arpc(vector_card) -> None:
    _, client = vector_card
    _start(client)
    first = client.generate_ac(ACType.ARQC, VECTOR_CDOL1_DATA)
    request = AuthorisationRequest(VECTOR_PAN, "00", first.atc, first.cryptogram,
                                   VECTOR_CDOL1_DATA, h("1800"), first.iad, 4000, 124)
    issuer = Issuer(VECTOR_IMK)
    assert issuer.verify_arqc(request).cvr.encode() == h("03A0B800")
    data91 = issuer.issuer_authentication_data(request, Decision.DECLINE,
                                               method=ARPCMethod.METHOD_2, csu=CardStatusUpdate())
    assert data91 == h("9AF514C100000000")
    assert client.external_authenticate(data91) is True
    # the published script commands of the chain, keyed with this ARQC
    assert client.send_script_command(VECTOR_UNBLOCK).ok
    assert client.send_script_command(VECTOR_PIN_CHANGE).ok
    second = client.generate_ac(ACType.TC, _cdol2(b"05", data91))
    assert second.kind is ACType.AAC  # CSU 00000000: the issuer did not approve
    issuer.verify_second_cryptogram(request, second, _cdol2(b"05", data91))
    _start(client)
    assert client.verify_pin("9999").verified


def test_issuer_builds_the_published_script_commands(vector_card) -> None:
    from host.payment.scripts import application_unblock, pin_change

    _, client = vector_card
    _start(client)
    first = client.generate_ac(ACType.ARQC, VECTOR_CDOL1_DATA)
    request = AuthorisationRequest(VECTOR_PAN, "00", first.atc, first.cryptogram,
                                   VECTOR_CDOL1_DATA, h("1800"), first.iad, 4000, 124)
    session = Issuer(VECTOR_IMK).script_session(request)
    assert application_unblock(session) == VECTOR_UNBLOCK
    assert pin_change(session, "9999") == VECTOR_PIN_CHANGE
    _, data, _ = split_script_command(CommandAPDU.parse(VECTOR_PIN_CHANGE))
    assert TDES.decipher(session.sk_smc, data) == encode_pin_block("9999")


@pytest.mark.parametrize("method", list(ARPCMethod))
def test_arpc_of_either_method_is_checked_by_the_card(method: ARPCMethod) -> None:
    profile = replace(VECTOR_PROFILE, arpc_method=method, initial_atc=0)
    card = personalised_card(profile)
    client = PaymentClient(chip1(card))
    issuer = Issuer(VECTOR_IMK, arpc_method=method)
    for tamper, expected in ((False, True), (True, False)):
        _start(client)
        first = client.generate_ac(ACType.ARQC, VECTOR_CDOL1_DATA)
        request = AuthorisationRequest(VECTOR_PAN, "00", first.atc, first.cryptogram,
                                       VECTOR_CDOL1_DATA, h("1800"), first.iad, 4000, 124)
        data91 = issuer.authorise(request).issuer_authentication_data
        assert len(data91) == method.data_length
        if tamper:
            data91 = bytes([data91[0] ^ 0x01]) + data91[1:]
        assert client.external_authenticate(data91) is expected
        second = client.generate_ac(ACType.TC, _cdol2(b"00", data91))
        assert second.kind is (ACType.TC if expected else ACType.AAC)


# --- AES: no published vector; cross-checked against cryptography's CMAC directly ----------

def test_aes_cryptogram_cross_check() -> None:
    imk = IssuerMasterKeys(bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)))
    mk = AES.icc_master_keys(imk, "6200000000000005", "00")
    sk = AES.ac_session_key(mk.ac, 0x0102)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(mk.ac), modes.ECB()).encryptor()
    assert sk == enc.update(h("0102") + bytes(14)) + enc.finalize()
    data = VECTOR_CDOL1_DATA + h("1C00") + h("0102") + VECTOR_IAD
    assert AES.application_cryptogram(sk, data) == cmac(Algorithm.AES, sk, data)[:8]
    smi = AES.sm_session_key(mk.smi, VECTOR_ARQC)
    enc = Cipher(algorithms.AES(mk.smi), modes.ECB()).encryptor()
    assert smi == enc.update(VECTOR_ARQC + bytes(8)) + enc.finalize()
