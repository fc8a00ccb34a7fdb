"""The secure channel's commands go through their specs on both ends, for every SCP.

INITIALIZE UPDATE answers in the layout of the card's protocol (SCP02: 28 bytes; SCP03:
29/32 bytes in S8, 45/48 in S16, with or without the sequence counter), and the spec
decodes each; EXTERNAL AUTHENTICATE reaches the ISD's handler through the same dispatch
as every other command, and the host builds both commands with the specs.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.commands.globalplatform import EXTERNAL_AUTHENTICATE, INITIALIZE_UPDATE
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.scp02 import (
    SCP02CardHandshake,
    SCP02HostHandshake,
    SCP02InitializeUpdateResponse,
)
from apdu_specs.crypto.scp03 import CardHandshake, HostHandshake, InitializeUpdateResponse
from apdu_specs.errors import SpecError
from cardlib.security_domain import ISDProfile, IssuerSecurityDomain
from host.gp import ChannelOptions, GPClient, ResponseError, Subset, parse_key_spec
from host.qa.conformance import ConformanceSuite, Outcome
from host.qa.conformance.secure import gp_secure_opener
from host.testing import simulated_link

from .gp_helpers import ISD, blank, client, tx

h = bytes.fromhex

#: osmocom/pysim tests/unittests/test_globalplatform.py (SCP02_Test): the card's answer
SCP02_ANSWER = h("00000000000000000000700200016B4524ABEE7CF32EA3838BC148F3")


def test_a_28_byte_scp02_answer_decodes_by_the_spec() -> None:
    fields = INITIALIZE_UPDATE.parse_response(SCP02_ANSWER)
    assert fields == {"key_diversification_data": bytes(10), "key_version": 0x70, "scp": 2,
                      "sequence_counter": 1, "card_challenge": h("6B4524ABEE7C"),
                      "card_cryptogram": h("F32EA3838BC148F3")}
    assert INITIALIZE_UPDATE.build_response(fields) == SCP02_ANSWER
    typed = SCP02InitializeUpdateResponse.parse(SCP02_ANSWER)
    assert typed.fields() == fields and typed.encode() == SCP02_ANSWER


def test_a_3des_card_answers_in_the_scp02_layout_and_the_host_reads_it() -> None:
    card = blank(suite="3DES")
    gp = client(card, keys=None)
    command = INITIALIZE_UPDATE.build(key_version=0, data={"host_challenge": bytes(8)})
    data, sw = tx(card.chip1, command.encode())
    assert sw == 0x9000 and len(data) == 28
    fields = INITIALIZE_UPDATE.parse_response(data)
    isd = card.chip1.chip.content.instance(ISD)
    assert (fields["scp"], fields["sequence_counter"]) == (2, isd.keystore.sequence_counter - 1)
    assert fields["key_diversification_data"] == isd.identity.kdd
    channel = gp.open_secure_channel(parse_key_spec("default"), ChannelOptions(level=0x03))
    assert (channel.scp, channel.kdd) == (2, isd.identity.kdd)
    assert gp.get_status(Subset.ISD)[0].aid == ISD


@pytest.mark.parametrize(("i_parameter", "length"),
                         ((0x00, 29), (0x70, 32), (0x01, 45), (0x71, 48)))
def test_every_scp03_answer_form_decodes_by_the_spec(i_parameter: int, length: int) -> None:
    card = blank(profile=ISDProfile(i_parameter=i_parameter))
    gp = client(card, keys=None)
    challenge = bytes(16 if i_parameter & 0x01 else 8)
    data, sw = tx(card.chip1, INITIALIZE_UPDATE.build(
        key_version=0, data={"host_challenge": challenge}).encode())
    assert sw == 0x9000 and len(data) == length
    fields = INITIALIZE_UPDATE.parse_response(data)
    assert (fields["scp"], fields["i"]) == (3, i_parameter)
    assert ("sequence_counter" in fields) == bool(i_parameter & 0x10)
    assert InitializeUpdateResponse.parse(data).fields() == fields
    level = 0x33 if i_parameter & 0x60 == 0x60 else 0x03
    channel = gp.open_secure_channel(parse_key_spec("default"), ChannelOptions(level=level))
    assert channel.i_parameter == i_parameter
    assert gp.get_status(Subset.ISD)[0].aid == ISD


def test_an_answer_of_no_known_layout_is_a_response_error_naming_it() -> None:
    with pytest.raises(SpecError, match="no layout for scp 01"):
        INITIALIZE_UPDATE.parse_response(SCP02_ANSWER[:11] + b"\x01" + SCP02_ANSWER[12:])
    with pytest.raises(SpecError, match="after the layout for scp 02"):
        INITIALIZE_UPDATE.parse_response(SCP02_ANSWER + b"\x00")
    with pytest.raises(SpecError, match="sequence_counter"):  # i b5 promises the counter
        INITIALIZE_UPDATE.parse_response(h("000000000000000000003003703EB51047495B249F66C484C1D2EF1948"))

    class OddCard:
        def transmit(self, apdu: bytes) -> bytes:
            return SCP02_ANSWER[:11] + b"\x01" + SCP02_ANSWER[12:] + b"\x90\x00"

    with pytest.raises(ResponseError, match="no layout for scp 01"):
        GPClient(OddCard()).open_secure_channel(parse_key_spec("default"))  # type: ignore[arg-type]


def test_external_authenticate_is_dispatched_to_its_handler_by_its_spec() -> None:
    (spec, handler, _), = IssuerSecurityDomain._dispatch[EXTERNAL_AUTHENTICATE.ins]
    assert spec is EXTERNAL_AUTHENTICATE and handler == "external_authenticate"
    card = blank()
    client(card, keys=None)
    assert tx(card.chip1, "8050000008" + "11" * 8 + "00")[1] == 0x9000
    # what the spec refuses never reaches the handler: the pending handshake stays usable
    assert tx(card.chip1, "848201000F" + "00" * 15)[1] == 0x6700  # no layout of 15 bytes
    assert tx(card.chip1, "8482010110" + "00" * 16)[1] == 0x6A86  # P2 is fixed to 00
    assert tx(card.chip1, "8482020010" + "00" * 16)[1] == 0x6A86  # 02 is no security level
    assert tx(card.chip1, "8482010010" + "00" * 16)[1] == 0x6982  # the handler: wrong C-MAC


_byte = st.integers(0, 0xFF)


@settings(max_examples=40, deadline=None)
@given(kvn=_byte, channel=st.integers(0, 3), challenge=st.binary(min_size=8, max_size=8),
       level=st.sampled_from((0x00, 0x01, 0x03)), scp02=st.booleans())
def test_the_handshakes_send_and_read_what_the_specs_build(kvn: int, channel: int,
                                                           challenge: bytes, level: int,
                                                           scp02: bool) -> None:
    cla = 0x80 | channel
    if scp02:
        keys = StaticKeys(bytes(16), bytes([1]) * 16, bytes([2]) * 16, Algorithm.TDES)
        host: SCP02HostHandshake | HostHandshake = SCP02HostHandshake(
            keys, kvn=kvn, host_challenge=challenge, cla=cla)
        card: SCP02CardHandshake | CardHandshake = SCP02CardHandshake(
            keys, kdd=bytes(10), kvn=kvn, sequence_counter=1)
    else:
        keys = StaticKeys(bytes(16), bytes([1]) * 16, bytes([2]) * 16, Algorithm.AES)
        host = HostHandshake(keys, kvn=kvn, host_challenge=challenge, cla=cla)
        card = CardHandshake(keys, kdd=bytes(10), kvn=kvn, sequence_counter=1, sd_aid=ISD)
    command = host.initialize_update_command()
    assert command == INITIALIZE_UPDATE.build(
        key_version=kvn, data={"host_challenge": challenge}, cla=cla).encode()
    answer = card.respond_initialize_update(INITIALIZE_UPDATE.parse(command)["data"]["host_challenge"])
    fields = INITIALIZE_UPDATE.parse_response(answer)
    assert INITIALIZE_UPDATE.build_response(fields) == answer
    host.process_initialize_update_response(answer)
    apdu, _ = host.external_authenticate(level)
    parsed = EXTERNAL_AUTHENTICATE.parse(apdu)
    assert parsed["security_level"] == level and apdu[0] == cla | 0x04
    assert EXTERNAL_AUTHENTICATE.build(parsed, cla=apdu[0]).encode() == apdu
    assert card.verify_external_authenticate(apdu[0], parsed).is_open


@pytest.mark.parametrize(("suite", "length"), (("3DES", 28), ("AES", 32), ("SM4", 32)))
def test_conformance_reads_the_answers_by_the_layout_of_the_cards_scp(suite: str,
                                                                       length: int) -> None:
    card = blank(suite=suite)
    link = simulated_link(card)
    algorithm = Algorithm.SM4 if suite == "SM4" else None
    opener = gp_secure_opener(parse_key_spec("default"), ChannelOptions(level=0x01,
                                                                         algorithm=algorithm))
    result = ConformanceSuite(link.transports, specs=[INITIALIZE_UPDATE, EXTERNAL_AUTHENTICATE],
                              secure_opener=opener).run()
    assert result.ok, [(str(r.case), r.detail) for r in result.failures()]
    answered = [r for r in result.results
                if r.case.spec is INITIALIZE_UPDATE and r.outcome is Outcome.PASS and r.sw == 0x9000]
    assert {r.case.title for r in answered} == {"first key set, whatever SCP the card runs"}
    assert all(len(r.response) == length + 2 for r in answered)  # its layout parsed it
    assert card.chip1.internal_errors == []
