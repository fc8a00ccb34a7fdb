"""GlobalPlatform card content management and secure channel commands (GP Card Spec 2.3)."""

from __future__ import annotations

from construct import Bytes, Const, GreedyBytes, GreedyRange, Int8ub, Int16ub, Int24ub, Struct

from .layouts import LV, RAW
from .registry import register
from .spec import CommandSpec, Example, Param
from .variants import Variants

APP = "gp"

_SL = {0x00: "no protection", 0x01: "C-MAC", 0x03: "C-MAC + C-DECRYPTION",
       0x11: "C-MAC + R-MAC", 0x13: "C-MAC + C-DECRYPTION + R-MAC",
       0x33: "C-MAC + C-DECRYPTION + R-MAC + R-ENCRYPTION"}


def _scp03_answer(n: int, with_counter: bool) -> Struct:
    """An SCP03 answer with challenge and cryptogram of ``n`` bytes (S8 or S16)."""
    counter = ("sequence_counter" / Int24ub,) if with_counter else ()
    return Struct(
        "key_diversification_data" / Bytes(10), "key_version" / Int8ub, "scp" / Int8ub,
        "i" / Int8ub, "card_challenge" / Bytes(n), "card_cryptogram" / Bytes(n), *counter)


#: the INITIALIZE UPDATE answer of each protocol, chosen by its SCP identifier (byte 12);
#: SCP03's by its i parameter: b1 S16 (16-byte challenge and cryptogram) or S8, b5
#: pseudo-random challenge, which brings the 3-byte sequence counter it comes from
INITIALIZE_UPDATE_ANSWER = Variants({
    0x02: Struct(
        "key_diversification_data" / Bytes(10), "key_version" / Int8ub, "scp" / Int8ub,
        "sequence_counter" / Int16ub, "card_challenge" / Bytes(6),
        "card_cryptogram" / Bytes(8)),
    0x03: Variants({0x00: _scp03_answer(8, False), 0x10: _scp03_answer(8, True),
                    0x01: _scp03_answer(16, False), 0x11: _scp03_answer(16, True)},
                   offset=12, field="i", mask=0x11),
}, offset=11, field="scp")

INITIALIZE_UPDATE = CommandSpec(
    name="INITIALIZE UPDATE", application=APP, cla=0x80, ins=0x50,
    summary="Start a secure channel session: host challenge in, card challenge and cryptogram out.",
    reference="GP Card Spec 2.3 §E.5.1 (SCP02) / Amendment D (SCP03) §7.1",
    p1=Param("key_version", doc="key version number (00: first available)"),
    p2=Param("key_id", fixed=0x00),
    data=Struct("host_challenge" / GreedyBytes), data_doc="host challenge, 8 (S8) or 16 (S16) bytes",
    response=INITIALIZE_UPDATE_ANSWER,
    response_doc="by the SCP identifier (byte 12) — SCP02, 28 bytes: KDD(10) KVN(1) 02 "
                 "sequence counter(2) card challenge(6) card cryptogram(8); SCP03: KDD(10) "
                 "KVN(1) 03 i(1) card challenge card cryptogram (8 bytes each, 16 when i b1 "
                 "is set) [sequence counter(3) when i b5 is set]: 29/32 bytes (S8), 45/48 (S16)",
    ne=256,
    sws={0x9000: "session started", 0x6A88: "key set not found", 0x6700: "wrong challenge length",
         0x6983: "key set blocked"},
    security="none; opens the session",
    examples=(
        Example(
            "SCP03 S8 with KVN 30 (published pySim session)",
            "8050300008B13E5F938FC108C400",
            {"key_version": 0x30, "data": {"host_challenge": bytes.fromhex("B13E5F938FC108C4")},
             "ne": 256},
            "000000000000000000003003703EB51047495B249F66C484C1D2EF19480000029000",
            {"key_diversification_data": bytes(10), "key_version": 0x30, "scp": 3, "i": 0x70,
             "card_challenge": bytes.fromhex("3EB51047495B249F"),
             "card_cryptogram": bytes.fromhex("66C484C1D2EF1948"),
             "sequence_counter": 2}),
        Example(
            "SCP02 with KVN 20, answered by key set 70 (published pySim session)",
            "805020000840A62C37FA6304F800",
            {"key_version": 0x20, "data": {"host_challenge": bytes.fromhex("40A62C37FA6304F8")},
             "ne": 256},
            "00000000000000000000700200016B4524ABEE7CF32EA3838BC148F39000",
            {"key_diversification_data": bytes(10), "key_version": 0x70, "scp": 2,
             "sequence_counter": 1, "card_challenge": bytes.fromhex("6B4524ABEE7C"),
             "card_cryptogram": bytes.fromhex("F32EA3838BC148F3")}),
        Example(
            "first key set, whatever SCP the card runs",
            "80500000080102030405060708" "00",
            {"key_version": 0x00,
             "data": {"host_challenge": bytes.fromhex("0102030405060708")}, "ne": 256}),
    ),
)

#: host cryptogram and C-MAC: 8 bytes each (SCP02, SCP03 S8) or 16 (SCP03 S16)
EXTERNAL_AUTHENTICATE_DATA = Variants({
    16: Struct("host_cryptogram" / Bytes(8), "mac" / Bytes(8)),
    32: Struct("host_cryptogram" / Bytes(16), "mac" / Bytes(16)),
})

EXTERNAL_AUTHENTICATE = CommandSpec(
    name="EXTERNAL AUTHENTICATE", application=APP, cla=0x84, ins=0x82,
    summary="Prove the host knows the keys and fix the session's security level.",
    reference="GP Card Spec 2.3 §E.5.2 / Amendment D §7.2",
    p1=Param("security_level", _SL, doc="security level of the session", strict=True),
    data=EXTERNAL_AUTHENTICATE_DATA,
    data_doc="host cryptogram ‖ C-MAC: 8 + 8 bytes (SCP02, SCP03 S8) or 16 + 16 (SCP03 S16)",
    sws={0x9000: "authenticated", 0x6300: "host cryptogram wrong", 0x6982: "MAC wrong",
         0x6985: "no INITIALIZE UPDATE before"},
    security="always C-MAC, never encrypted",
    examples=(
        Example("security level 11 (published pySim session)",
                "84821100107D5F5826A993EBC89EEA24957FA0B3CE",
                {"security_level": 0x11,
                 "data": {"host_cryptogram": bytes.fromhex("7D5F5826A993EBC8"),
                          "mac": bytes.fromhex("9EEA24957FA0B3CE")}}),
        Example("SCP02, security level 01 (published pySim session)",
                "8482010010BA6961667737C5BCEBECE14C7D6A4376",
                {"security_level": 0x01,
                 "data": {"host_cryptogram": bytes.fromhex("BA6961667737C5BC"),
                          "mac": bytes.fromhex("EBECE14C7D6A4376")}}),
    ),
)

_STORE_P1 = ("b8 last block; b7-b6 encryption (00 none, 01 app-dependent, 11 encrypted); "
             "b5-b4 structure (00 none, 01 DGI, 10 BER-TLV); b1 response data expected")

STORE_DATA = CommandSpec(
    name="STORE DATA", application=APP, cla=0x80, ins=0xE2,
    summary="Personalisation data for the application named by INSTALL [for personalization].",
    reference="GP Card Spec 2.3 §11.11; EMV CPS §4.3 (DGI)",
    p1=Param("control", {0x08: "DGI, more blocks", 0x88: "DGI, last block",
                         0x68: "encrypted DGI, more", 0xE8: "encrypted DGI, last",
                         0x90: "BER-TLV, last block"}, doc=_STORE_P1),
    p2=Param("block", doc="block number 00–FF"),
    data=Struct("payload" / GreedyBytes), data_doc="DGIs (2-byte id, length, value) or TLVs",
    sws={0x9000: "stored", 0x6A80: "malformed DGI", 0x6985: "no application to personalise",
         0x6A88: "DGI unknown to the application"},
    security="secure channel with C-MAC (C-DECRYPTION for secret DGIs)",
    examples=(Example("last DGI block: DGI 0101 with 3 bytes", "80E2880006010103AABBCC",
                      {"control": 0x88, "block": 0,
                       "data": {"payload": bytes.fromhex("010103AABBCC")}}),),
)

PUT_KEY = CommandSpec(
    name="PUT KEY", application=APP, cla=0x80, ins=0xD8,
    summary="Add or replace a key set (keys encrypted under the DEK, each with its KCV).",
    reference="GP Card Spec 2.3 §11.8; Amendment D §7.3 (AES key blocks)",
    p1=Param("old_key_version", doc="KVN to replace, 00 to add a new key set"),
    p2=Param("key_id", doc="first key id; b8 set when several keys follow (81)"),
    data=Struct(
        "new_key_version" / Int8ub,
        "keys" / GreedyRange(Struct("type" / Int8ub, "key" / LV, "kcv" / LV)),
    ),
    data_doc="new KVN ‖ for ENC, MAC, DEK: type(88 AES, 80 DES) ‖ L‖[keylen‖]encrypted key ‖ L‖KCV",
    response=Struct("key_version" / Int8ub, "kcvs" / GreedyRange(Bytes(3))),
    response_doc="KVN ‖ the KCV of each key",
    ne=256,
    sws={0x9000: "keys stored", 0x6A80: "KCV does not match", 0x6A88: "key version not found",
         0x6A84: "no room for another key set"},
    security="secure channel with C-MAC (key values encrypted under the session DEK)",
    examples=(Example(
        "one AES-128 key set entry: type 88, length 16, encrypted key, KCV",
        "80D8008118308811100000000000000000000000000000000003AABBCC00",
        {"old_key_version": 0, "key_id": 0x81,
         "data": {"new_key_version": 0x30,
                  "keys": [{"type": 0x88, "key": bytes([16]) + bytes(16),
                            "kcv": bytes.fromhex("AABBCC")}]},
         "ne": 256}),),
)

INSTALL = CommandSpec(
    name="INSTALL", application=APP, cla=0x80, ins=0xE6,
    summary="Install an application from a load file, make it selectable, or name it for personalisation.",
    reference="GP Card Spec 2.3 §11.5",
    p1=Param("role", {0x02: "for load", 0x04: "for install", 0x08: "for make selectable",
                      0x0C: "for install and make selectable", 0x20: "for personalization",
                      0x40: "for registry update"}, doc="which INSTALL", strict=True),
    data=Struct(
        "load_file_aid" / LV, "module_aid" / LV, "application_aid" / LV,
        "privileges" / LV, "parameters" / LV, "token" / LV,
    ),
    data_doc="each field length-prefixed: load file AID, module AID, application AID, "
             "privileges, parameters (C9…), token",
    response=RAW, ne=256,
    sws={0x9000: "done", 0x6A80: "malformed data", 0x6A88: "load file or module not found",
         0x6985: "application already exists / wrong life cycle", 0x6A84: "not enough memory"},
    security="secure channel with C-MAC",
    examples=(
        Example("install and make selectable F0000000010201 from load file F000000001",
                "80E60C001B05F00000000106F0000000010207F0000000010201010002C9000000",
                {"role": 0x0C,
                 "data": {"load_file_aid": bytes.fromhex("F000000001"),
                          "module_aid": bytes.fromhex("F00000000102"),
                          "application_aid": bytes.fromhex("F0000000010201"),
                          "privileges": b"\x00", "parameters": bytes.fromhex("C900"),
                          "token": b""},
                 "ne": 256}),
        Example("for personalization of F0000000010201",
                "80E620000D000007F000000001020100000000",
                {"role": 0x20, "data": {"load_file_aid": b"", "module_aid": b"",
                                        "application_aid": bytes.fromhex("F0000000010201"),
                                        "privileges": b"", "parameters": b"", "token": b""},
                 "ne": 256}),
    ),
)

DELETE = CommandSpec(
    name="DELETE", application=APP, cla=0x80, ins=0xE4,
    summary="Delete an application (or a load file, with its applications when P2=80).",
    reference="GP Card Spec 2.3 §11.2",
    p2=Param("scope", {0x00: "the object only", 0x80: "the object and related objects"},
             strict=True),
    data=Struct(Const(b"\x4F"), "aid" / LV), data_doc="4F ‖ L ‖ AID",
    response=RAW, ne=256,
    sws={0x9000: "deleted", 0x6A88: "not found", 0x6985: "application has dependents"},
    security="secure channel with C-MAC",
    examples=(Example("delete F0000000010201", "80E40000094F07F000000001020100",
                      {"scope": 0, "data": {"aid": bytes.fromhex("F0000000010201")},
                       "ne": 256}),),
)

GET_STATUS = CommandSpec(
    name="GET STATUS", application=APP, cla=0x80, ins=0xF2,
    summary="List the registry: the ISD, applications and security domains, load files.",
    reference="GP Card Spec 2.3 §11.4",
    p1=Param("subset", {0x80: "issuer security domain", 0x40: "applications and SSDs",
                        0x20: "executable load files", 0x10: "load files and their modules"},
             strict=True),
    p2=Param("format", {0x00: "legacy, first", 0x01: "legacy, next", 0x02: "TLV (E3), first",
                        0x03: "TLV (E3), next"}, strict=True),
    data=Struct("criteria" / GreedyBytes), data_doc="search criteria, e.g. 4F 00 (all)",
    response=RAW, response_doc="E3 registry entries (TLV format)", ne=256,
    sws={0x9000: "complete", 0x6310: "more data: repeat with P2 next",
         0x6A88: "nothing matches"},
    security="secure channel (any level)",
    examples=(Example("all applications, TLV format", "80F24002024F0000",
                      {"subset": 0x40, "format": 0x02,
                       "data": {"criteria": bytes.fromhex("4F00")}, "ne": 256}),),
)

SET_STATUS = CommandSpec(
    name="SET STATUS", application=APP, cla=0x80, ins=0xF0,
    summary="Change the life cycle state of the card or of an application.",
    reference="GP Card Spec 2.3 §11.10",
    p1=Param("target", {0x80: "issuer security domain / card", 0x40: "application or SSD",
                        0x60: "SD and its associated applications"}, strict=True),
    p2=Param("state", doc="new life cycle state (card: 0F SECURED, 7F CARD_LOCKED, FF TERMINATED; "
                          "application: 80 lock, 00 unlock, or an application-specific state)"),
    data=Struct("aid" / GreedyBytes), data_required=False, data_doc="AID (for P1 40/60)",
    sws={0x9000: "state changed", 0x6985: "transition not allowed",
         0x6A88: "application not found"},
    security="secure channel with C-MAC",
    examples=(
        Example("card to SECURED", "80F0800F", {"target": 0x80, "state": 0x0F}),
        Example("lock application F0000000010201", "80F0408007F0000000010201",
                {"target": 0x40, "state": 0x80,
                 "data": {"aid": bytes.fromhex("F0000000010201")}}),
    ),
)

register(INITIALIZE_UPDATE, EXTERNAL_AUTHENTICATE, STORE_DATA, PUT_KEY, INSTALL, DELETE,
         GET_STATUS, SET_STATUS)
