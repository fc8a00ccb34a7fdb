"""INSTALL, DELETE, GET STATUS paging, PUT KEY, DELETE KEY and STORE DATA against the ISD."""

from __future__ import annotations

import pytest

from apdu_specs.commands.gp_extra import parse_registry
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.sw import CardError
from cardlib.security_domain import ISDProfile
from host.gp import (
    DGI,
    AuthenticationError,
    GPClient,
    KCVMismatchError,
    KeySpec,
    MasterKeys,
    Subset,
    apdus,
)

from .gp_helpers import ISD, blank, client, sw_of
from .perso_applet import COMPLETE_DGI, PERSO_AID, PERSO_LOAD_FILE, PERSO_MODULE, REFUSED_DGI

NEW = StaticKeys(bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)))
NEW_SPEC = KeySpec(MasterKeys(NEW.enc, NEW.mac, NEW.dek), source="new")


def perso_app(card):
    return card.chip1.chip.content.instance(PERSO_AID)


def sw(action) -> int:
    with pytest.raises(CardError) as err:
        action()
    return err.value.sw


# --- INSTALL / DELETE ------------------------------------------------------------------


def test_gp_install_with_parameters_and_delete() -> None:
    card = blank()
    gp = client(card)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID, params=b"\x01\x02")
    assert perso_app(card).store.get("params") == b"\x01\x02"
    apps = gp.get_status(Subset.APPLICATIONS)
    assert [(e.aid, e.state, e.load_file_aid) for e in apps] == [(PERSO_AID, 0x07, PERSO_LOAD_FILE)]
    assert sw(lambda: gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)) == 0x6985
    gp.delete(PERSO_AID)
    assert gp.get_status(Subset.APPLICATIONS) == []
    assert not any(k.startswith("app/" + PERSO_AID.hex().upper())
                   for k in card.chip1.chip.memory.snapshot())
    assert sw(lambda: gp.delete(PERSO_AID)) == 0x6A88


def test_gp_install_refusals() -> None:
    gp = client(blank())
    assert sw(lambda: gp.install(PERSO_LOAD_FILE, b"\xf0\x00\x00\x00\xee\x09", PERSO_AID)) == 0x6A88
    assert sw(lambda: gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID,
                                 privileges=b"\x80")) == 0x6A80
    assert sw(lambda: gp.install(PERSO_LOAD_FILE, PERSO_MODULE, b"\xf0\x01")) == 0x6A80
    for_load = apdus._install(0x02, PERSO_LOAD_FILE)
    assert sw(lambda: gp.send(for_load, "INSTALL [for load]")) == 0x6A81
    assert sw(lambda: gp.make_selectable(PERSO_AID)) == 0x6A88


def test_gp_delete_load_file_needs_related_and_keeps_the_isd() -> None:
    card = blank()
    gp = client(card)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID + b"\x02")
    assert sw(lambda: gp.delete(PERSO_LOAD_FILE)) == 0x6985
    gp.delete(PERSO_LOAD_FILE, related=True)
    assert gp.get_status(Subset.APPLICATIONS) == []
    assert PERSO_LOAD_FILE in [e.aid for e in gp.get_status(Subset.LOAD_FILES)]
    assert sw(lambda: gp.delete(ISD)) == 0x6985


# --- GET STATUS -----------------------------------------------------------------------


def test_gp_get_status_pages_with_6310() -> None:
    card = blank(profile=ISDProfile(status_page_size=64))
    gp = client(card, level=0x33)
    aids = [PERSO_AID + bytes([n]) for n in range(8)]
    for aid in aids:
        gp.install(PERSO_LOAD_FILE, PERSO_MODULE, aid)
    gp.transport.log.clear()
    entries = gp.get_status(Subset.APPLICATIONS)
    assert [e.aid for e in entries] == aids
    sws = [sw_of(r) for _, r in gp.transport.log]
    assert sws[:-1] == [0x6310] * (len(sws) - 1) and sws[-1] == 0x9000 and len(sws) > 2
    assert [c[3] for c, _ in gp.transport.log] == [0x02] + [0x03] * (len(sws) - 1)


def test_gp_get_status_next_without_first_and_filters() -> None:
    card = blank()
    gp = client(card)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)
    assert sw(lambda: gp.send(apdus.get_status(0x40, next_occurrence=True), "GET STATUS")) == 0x6985
    assert gp.get_status(Subset.APPLICATIONS, aid_prefix=b"\xf0\x00\x00\x00\xee") != []
    assert gp.get_status(Subset.APPLICATIONS, aid_prefix=b"\xa0\x00\x00\x00\x04") == []


def test_gp_get_status_legacy_format() -> None:
    card = blank()
    gp = client(card)
    resp = gp.send(apdus.get_status(0x80).replace(p2=0x00), "GET STATUS")
    assert resp.data == bytes([len(ISD)]) + ISD + b"\x01\x9e"
    assert parse_registry(gp.send(apdus.get_status(0x80), "GET STATUS").data)[0].aid == ISD


# --- PUT KEY / DELETE KEY ---------------------------------------------------------------


def test_gp_put_key_replaces_the_test_keys() -> None:
    card = blank()
    gp = client(card, level=0x03)
    gp.put_key(NEW, 0x30)
    assert {k.kvn for k in gp.key_information()} == {0x30}  # FF retired
    with pytest.raises(AuthenticationError):
        client(card)
    gp = client(card, keys=None)
    gp.open_secure_channel(NEW_SPEC)
    assert gp.channel.kvn == 0x30


def test_gp_put_key_replace_in_place_and_under_a_new_version() -> None:
    card = blank()
    gp = client(card)
    gp.put_key(NEW, 0x30)
    gp.put_key(NEW, 0x31, replace_kvn=0x30)
    assert {k.kvn for k in gp.key_information()} == {0x31}
    assert sw(lambda: gp.put_key(NEW, 0x32, replace_kvn=0x30)) == 0x6A88
    gp.put_key(NEW, 0x32)
    assert sw(lambda: gp.put_key(NEW, 0x32)) == 0x6985
    gp.delete_key(0x31)
    assert {k.kvn for k in gp.key_information()} == {0x32}
    assert sw(lambda: gp.delete_key(0x31)) == 0x6A88


def test_gp_put_key_refuses_a_wrong_kcv() -> None:
    card = blank()
    gp = client(card)
    channel = gp.channel

    def bad_component(key: bytes) -> dict[str, object]:
        entry = channel.key_component(key)
        return {**entry, "kcv": b"\x00\x00\x00"}

    apdu = apdus.put_key(NEW, 0x30, component=bad_component)
    assert sw(lambda: gp.send(apdu, "PUT KEY")) == 0x6A80
    assert {k.kvn for k in gp.key_information()} == {0xFF}


def test_gp_host_checks_the_kcvs_the_card_reports() -> None:
    card = blank()
    gp = client(card)
    real_send = gp.send

    def lying_card(apdu, command, **kw):
        resp = real_send(apdu, command, **kw)
        if command == "PUT KEY":
            return type(resp)(resp.data[:-1] + b"\x00", resp.sw)
        return resp

    gp.send = lying_card  # type: ignore[method-assign]
    with pytest.raises(KCVMismatchError):
        gp.put_key(NEW, 0x30)


def test_gp_put_key_limits_and_algorithm() -> None:
    card = blank(profile=ISDProfile(max_key_sets=2))
    gp = client(card)
    gp.put_key(NEW, 0x30)
    gp.put_key(NEW, 0x31)
    assert sw(lambda: gp.put_key(NEW, 0x32)) == 0x6A84
    from host.gp import GPError

    with pytest.raises(GPError, match="AES keys, not SM4"):
        gp.put_key(StaticKeys(NEW.enc, NEW.mac, NEW.dek, Algorithm.SM4), 0x33)


def test_gp_the_last_key_set_and_the_one_in_use_stay() -> None:
    gp = client(blank())
    assert sw(lambda: gp.delete_key(0xFF)) == 0x6985


# --- STORE DATA -------------------------------------------------------------------------


def test_gp_store_data_routes_dgis_and_decrypts_sensitive_ones() -> None:
    card = blank()
    gp = client(card, level=0x03)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)
    long_value = bytes(range(256)) * 2
    dgis = [DGI(0x0101, b"\x5a\x08" + bytes(8)), DGI(0x8000, b"secret key data", sensitive=True),
            DGI(0x0202, long_value), DGI(0x8010, b"\x12\x34", sensitive=True)]
    gp.transport.log.clear()
    blocks = gp.personalize(PERSO_AID, dgis)
    assert blocks >= 5
    assert perso_app(card).dgis() == {d.dgi: d.value for d in dgis}
    store_data = [c for c, _ in gp.transport.log if c[1] == 0xE2]
    assert b"secret key data" not in b"".join(store_data)


def _app_state(gp: GPClient) -> int:
    return {e.aid: e.state for e in gp.get_status(Subset.APPLICATIONS)}[PERSO_AID]


def test_an_application_marks_itself_personalised_on_the_last_block_only_when_complete() -> None:
    card = blank()
    gp = client(card, level=0x03)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)
    gp.personalize(PERSO_AID, [DGI(0x0101, b"not yet")])
    assert _app_state(gp) == 0x07  # SELECTABLE: the toy lacks its completing DGI
    gp.install_for_personalization(PERSO_AID)
    first, last = apdus.store_data([DGI(COMPLETE_DGI, bytes(300))], encrypt=bytes)
    gp.send(first, "STORE DATA")
    assert _app_state(gp) == 0x07  # the data is in, but only the last block ends the sequence
    gp.send(last, "STORE DATA")
    assert _app_state(gp) == 0x0F  # PERSONALIZED, in the last block's own transaction


def test_only_a_selectable_application_is_moved_by_its_own_personalisation() -> None:
    card = blank()
    gp = client(card, level=0x03)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)
    gp.set_application_status(PERSO_AID, 0x1F)  # an application-specific state of the issuer's
    gp.personalize(PERSO_AID, [DGI(COMPLETE_DGI, b"x")])
    assert _app_state(gp) == 0x1F


def test_gp_encrypted_dgi_on_the_wire_is_not_plain_even_with_mac_only() -> None:
    card = blank()
    gp = client(card, level=0x01)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)
    gp.transport.log.clear()
    gp.personalize(PERSO_AID, [DGI(0x8000, b"confidential!", sensitive=True)])
    (_, _), (cmd, _) = gp.transport.log
    assert cmd[2] == 0xE8 and b"confidential!" not in cmd  # P1: encrypted DGI, last block
    assert perso_app(card).dgis()[0x8000] == b"confidential!"


def test_gp_store_data_block_order_and_errors() -> None:
    card = blank()
    gp = client(card)
    gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID)
    gp.install_for_personalization(PERSO_AID)
    first, second = apdus.store_data([DGI(0x0101, bytes(300))], encrypt=bytes)
    assert sw(lambda: gp.send(second, "STORE DATA")) == 0x6A86
    gp.send(first, "STORE DATA")
    gp.send(second, "STORE DATA")
    assert perso_app(card).dgis() == {0x0101: bytes(300)}
    gp.install_for_personalization(PERSO_AID)
    assert sw(lambda: gp.store_data([DGI(REFUSED_DGI, b"x")])) == 0x6A80
    assert sw(lambda: gp.install_for_personalization(PERSO_AID + b"\x09")) == 0x6A88


def test_gp_store_data_to_the_isd_sets_iin_and_cin() -> None:
    card = blank()
    gp = client(card)
    gp.send(apdus.STORE_DATA.build(control=0x90, block=0,
                                   data={"payload": bytes.fromhex("4203123456450411223344")}),
            "STORE DATA")
    assert gp.get_data(0x42) == bytes.fromhex("123456")
    assert gp.get_data(0x45) == bytes.fromhex("11223344")
    assert gp.get_data(0x9F6E) is None


def test_gp_get_data_objects_without_a_session() -> None:
    card = blank(iin=bytes.fromhex("0001"))
    gp = client(card, keys=None)
    assert gp.get_data(0x42) == b"\x00\x01"
    assert gp.get_data(0x45) is not None and len(gp.cplc()["ic_serial_number"]) == 4
    assert gp.card_recognition().gp_version == "2.3.1"
    resp = gp.send(apdus.get_data(0x9F7F).replace(cla=0x00), "GET DATA")
    assert resp.data[:3] == b"\x9f\x7f\x2a"
