"""Chip 1 payment application commands (EMV 4.3 Book 3 §6.5, modelled, not copied).

SELECT, READ RECORD, VERIFY and GET DATA are the interindustry specs of
:mod:`apdu_specs.commands.iso7816`; this module adds the commands only a payment
application knows, including the issuer script commands that carry a MAC (CLA 84,
or 04 for PUT DATA). The examples come from one transaction of the published
HSM-checked 3DES chain (IMK-AC 0123…3210, PAN 1234567890123456, ATC 001C) that the
payment tests replay through the card.
"""

from __future__ import annotations

from construct import Const, GreedyBytes, Int8ub, Prefixed, Struct

from .layouts import RAW
from .registry import register
from .spec import CommandSpec, Example, Param

APP = "payment"

_TAG_HIGH = Param("tag_high", doc="first byte of the tag (DF for DF10/DF11)")
_TAG_LOW = Param("tag_low", doc="last byte of the tag")
_SCRIPT_SWS = {0x9000: "done", 0x6987: "command without secure messaging (CLA without SM bit)",
               0x6988: "MAC wrong", 0x6985: "no ARQC in this session to key the MAC"}
_SCRIPT_SECURITY = ("issuer secure messaging: 8-byte MAC with SK-SMI (R = ARQC) over "
                    "CLA INS P1 P2 Lc ‖ ATC ‖ ARQC ‖ data")

GET_PROCESSING_OPTIONS = CommandSpec(
    name="GET PROCESSING OPTIONS", application=APP, cla=0x80, ins=0xA8,
    summary="Start a transaction: the card increments its ATC and answers AIP and AFL.",
    reference="EMV 4.3 Book 3 §6.5.8",
    data=Struct(Const(b"\x83"), "pdol_data" / Prefixed(Int8ub, GreedyBytes)),
    data_doc="83 ‖ L ‖ the values the PDOL (9F38 in the FCI) asks for",
    response=RAW, response_doc="80 ‖ L ‖ AIP (2) ‖ AFL (4n) — format 1", ne=256,
    sws={0x9000: "transaction started", 0x6700: "PDOL data of the wrong length",
         0x6985: "not personalised, transaction already started, or ATC exhausted"},
    examples=(Example("PDOL 9F1A 02 5F2A 02: terminal in China, CNY",
                      "80A8000006830401560156 00".replace(" ", ""),
                      {"data": {"pdol_data": bytes.fromhex("01560156")}, "ne": 256},
                      "80061C00080102009000"),),
)

GENERATE_AC = CommandSpec(
    name="GENERATE AC", application=APP, cla=0x80, ins=0xAE,
    summary="Ask for an application cryptogram over the CDOL data; the card decides which.",
    reference="EMV 4.3 Book 3 §6.5.5; Book 2 §8.1",
    p1=Param("reference_control", {0x00: "AAC (decline)", 0x40: "TC (approve offline)",
                                   0x80: "ARQC (go online)"},
             doc="cryptogram type requested (CDA, bit 10, is not supported)", strict=True),
    data=Struct("cdol_data" / GreedyBytes),
    data_doc="values in the order of CDOL1 (first call) or CDOL2 (second call)",
    response=RAW,
    response_doc="77 ‖ L ‖ 9F27 CID ‖ 9F36 ATC ‖ 9F26 cryptogram ‖ 9F10 issuer application data",
    ne=256,
    sws={0x9000: "cryptogram returned", 0x6700: "CDOL data of the wrong length",
         0x6985: "out of sequence (no GPO, or no ARQC before a second GENERATE AC)"},
    security="none; the cryptogram is the proof",
    examples=(Example(
        "first GENERATE AC asking ARQC (published chain, ATC 001C)",
        "80AE80001D0000000040000000000000000124800004800001241911050152BF458500",
        {"reference_control": 0x80,
         "data": {"cdol_data": bytes.fromhex(
             "000000004000000000000000012480000480000124191105" "0152BF4585")},
         "ne": 256},
        "771E9F2701809F3602001C9F26087A788EA6B8A3E7339F10070601120" "3A0B8009000"),),
)

EXTERNAL_AUTHENTICATE = CommandSpec(
    name="EXTERNAL AUTHENTICATE (EMV)", application=APP, cla=0x00, ins=0x82,
    summary="Give the card the issuer's ARPC (tag 91 value) before the second GENERATE AC.",
    reference="EMV 4.3 Book 3 §6.5.4; Book 2 §8.2",
    data=Struct("issuer_authentication_data" / GreedyBytes),
    data_doc="method 1: ARPC (8) ‖ ARC (2); method 2: ARPC (4) ‖ CSU (4) ‖ proprietary (0–8)",
    sws={0x9000: "issuer authenticated", 0x6300: "ARPC wrong (issuer authentication failed)",
         0x6985: "no ARQC pending, or already tried in this transaction",
         0x6700: "wrong length for the application's ARPC method"},
    examples=(Example("method 2, CSU 00000000 (published chain)",
                      "00820000089AF514C100000000",
                      {"data": {"issuer_authentication_data":
                                bytes.fromhex("9AF514C100000000")}}),),
)

APPLICATION_BLOCK = CommandSpec(
    name="APPLICATION BLOCK", application=APP, cla=0x84, ins=0x1E,
    summary="Issuer script: block the application (SELECT then answers 6283, cryptograms AAC).",
    reference="EMV 4.3 Book 3 §6.5.1",
    data=Struct("mac" / GreedyBytes), data_doc="MAC (8)",
    sws=_SCRIPT_SWS, security=_SCRIPT_SECURITY,
    examples=(Example("block, in the session of ARQC 7A788EA6B8A3E733",
                      "841E0000086D6FAC5214B1C500",
                      {"data": {"mac": bytes.fromhex("6D6FAC5214B1C500")}}),),
)

APPLICATION_UNBLOCK = CommandSpec(
    name="APPLICATION UNBLOCK", application=APP, cla=0x84, ins=0x18,
    summary="Issuer script: unblock the application.",
    reference="EMV 4.3 Book 3 §6.5.2",
    data=Struct("mac" / GreedyBytes), data_doc="MAC (8)",
    sws=_SCRIPT_SWS, security=_SCRIPT_SECURITY,
    examples=(Example("unblock (published MAC of the chain)", "8418000008A4805748F846D851",
                      {"data": {"mac": bytes.fromhex("A4805748F846D851")}}),),
)

PIN_CHANGE_UNBLOCK = CommandSpec(
    name="PIN CHANGE/UNBLOCK", application=APP, cla=0x84, ins=0x24,
    summary="Issuer script: reset the PIN try counter, optionally setting a new PIN.",
    reference="EMV 4.3 Book 3 §6.5.10",
    p2=Param("operation", {0x00: "unblock (reset the try counter)",
                           0x01: "change with the current PIN (not supported by chip 1)",
                           0x02: "change without the current PIN"}, strict=True),
    data=Struct("payload" / GreedyBytes),
    data_doc="P2 00: MAC (8); P2 02: enciphered (SK-SMC) PIN block ‖ MAC (8)",
    sws={**_SCRIPT_SWS, 0x6A86: "P2 01 is not supported", 0x6A80: "enciphered PIN block malformed"},
    security=_SCRIPT_SECURITY + "; the new PIN block enciphered with SK-SMC",
    examples=(
        Example("unblock the PIN", "8424000008E141EF5F6D111AA5",
                {"operation": 0, "data": {"payload": bytes.fromhex("E141EF5F6D111AA5")}}),
        Example("new PIN 9999 (published chain)",
                "84240002181B2943BED3D298F9C75848D17317CD1D25B70F7E26613E5F",
                {"operation": 2, "data": {"payload": bytes.fromhex(
                    "1B2943BED3D298F9C75848D17317CD1D25B70F7E26613E5F")}}),
    ),
)

PUT_DATA_SCRIPT = CommandSpec(
    name="PUT DATA (ISSUER SCRIPT)", application=APP, cla=0x04, ins=0xDA,
    summary="Issuer script: set a limit (DF10 offline limit, DF11 credit limit, 9F14, 9F23).",
    reference="EMV 4.3 Book 3 §6.5.9",
    p1=_TAG_HIGH, p2=_TAG_LOW,
    data=Struct("payload" / GreedyBytes), data_doc="new value ‖ MAC (8)",
    sws={**_SCRIPT_SWS, 0x6A88: "tag not writable", 0x6A80: "value of the wrong length"},
    security=_SCRIPT_SECURITY,
    examples=(Example("offline limit DF10 to 1000.00",
                      "04DADF100C000186A080D616DAC7B22EFD",
                      {"tag_high": 0xDF, "tag_low": 0x10,
                       "data": {"payload": bytes.fromhex("000186A080D616DAC7B22EFD")}}),),
)

register(GET_PROCESSING_OPTIONS, GENERATE_AC, EXTERNAL_AUTHENTICATE, APPLICATION_BLOCK,
         APPLICATION_UNBLOCK, PIN_CHANGE_UNBLOCK, PUT_DATA_SCRIPT)
