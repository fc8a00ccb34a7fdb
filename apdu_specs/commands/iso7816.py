"""Interindustry commands (ISO/IEC 7816-4 §11, EMV Book 1/3 where EMV narrows them)."""

from __future__ import annotations

from construct import GreedyBytes, Int8ub, Struct

from .layouts import RAW
from .registry import register
from .spec import CommandSpec, Example, Param

APP = "iso7816"

SELECT = CommandSpec(
    name="SELECT", application=APP, cla=0x00, ins=0xA4,
    summary="Select an application (by AID, full or partial) or a file.",
    reference="ISO/IEC 7816-4 §11.2.2; EMV Book 1 §11.3",
    p1=Param("selection", {0x00: "MF/DF/EF by file id", 0x04: "by DF name (AID)"},
             doc="selection method"),
    p2=Param("occurrence", {0x00: "first or only occurrence, return FCI",
                            0x02: "next occurrence, return FCI",
                            0x0C: "first occurrence, no response data"},
             doc="which occurrence and what to return"),
    data=Struct("name" / GreedyBytes), data_doc="AID (5–16 bytes) or file identifier",
    response=RAW, response_doc="FCI template (6F)", ne=256,
    sws={0x9000: "selected", 0x6A82: "no such application", 0x6283: "application blocked"},
    examples=(
        Example("select the payment directory 1PAY.SYS.DDF01",
                "00A404000E315041592E5359532E444446303100",
                {"selection": 4, "occurrence": 0,
                 "data": {"name": b"1PAY.SYS.DDF01"}, "ne": 256}),
        Example("select MF by file id, no FCI", "00A4000C023F00",
                {"selection": 0, "occurrence": 0x0C, "data": {"name": b"\x3f\x00"}}),
    ),
)

GET_RESPONSE = CommandSpec(
    name="GET RESPONSE", application=APP, cla=0x00, ins=0xC0,
    summary="Fetch the response bytes announced by 61xx.",
    reference="ISO/IEC 7816-4 §11.4.1 (T=0 transmission, ISO/IEC 7816-3)",
    response=RAW, ne=256,
    sws={0x9000: "last part returned", 0x6100: "61xx: more bytes remain",
         0x6985: "no response pending"},
    examples=(Example("fetch 16 pending bytes", "00C0000010", {"ne": 16}),),
)

MANAGE_CHANNEL = CommandSpec(
    name="MANAGE CHANNEL", application=APP, cla=0x00, ins=0x70,
    summary="Open or close a logical channel.",
    reference="ISO/IEC 7816-4 §11.1.2",
    p1=Param("operation", {0x00: "open", 0x80: "close"}, strict=True),
    p2=Param("channel", doc="00 on open: the card assigns; on close: the channel to close"),
    response=Struct("channel" / Int8ub), response_doc="assigned channel number (open)",
    sws={0x9000: "done", 0x6881: "logical channel not supported",
         0x6A81: "no channel available"},
    examples=(
        Example("open a channel, card assigns", "0070000001",
                {"operation": 0, "channel": 0, "ne": 1}, "019000", {"channel": 1}),
        Example("close channel 1", "00708001", {"operation": 0x80, "channel": 1}),
    ),
)

GET_DATA = CommandSpec(
    name="GET DATA", application=APP, cla=0x80, ins=0xCA,
    summary="Read one data object by tag (P1-P2 = tag).",
    reference="ISO/IEC 7816-4 §11.5.1; EMV Book 3 §6.5.7; GP 2.3 §11.3",
    p1=Param("tag_high", doc="first byte of the tag (00 for one-byte tags)"),
    p2=Param("tag_low", doc="last byte of the tag"),
    response=RAW, response_doc="the data object, TLV-encoded", ne=256,
    sws={0x9000: "returned", 0x6A88: "referenced data not found"},
    examples=(
        Example("read the ATC (9F36)", "80CA9F3600",
                {"tag_high": 0x9F, "tag_low": 0x36, "ne": 256}),
        Example("read the CPLC (9F7F)", "80CA9F7F00",
                {"tag_high": 0x9F, "tag_low": 0x7F, "ne": 256}),
    ),
)

PUT_DATA = CommandSpec(
    name="PUT DATA", application=APP, cla=0x00, ins=0xDA,
    summary="Write one data object by tag (P1-P2 = tag).",
    reference="ISO/IEC 7816-4 §11.5.6; EMV Book 3 §6.5.9 (issuer script form)",
    p1=Param("tag_high"), p2=Param("tag_low"),
    data=Struct("value" / GreedyBytes), data_doc="new value of the data object",
    sws={0x9000: "written", 0x6982: "secure messaging required",
         0x6A88: "data object not writable"},
    security="issuer secure messaging (C-MAC) where the application requires it",
    examples=(Example("set DF10 to 5000.00", "00DADF10040007A120",
                      {"tag_high": 0xDF, "tag_low": 0x10,
                       "data": {"value": bytes.fromhex("0007A120")}}),),
)

VERIFY = CommandSpec(
    name="VERIFY", application=APP, cla=0x00, ins=0x20,
    summary="Present a PIN; without data, ask how many tries are left.",
    reference="ISO/IEC 7816-4 §11.5.6; EMV Book 3 §6.5.12",
    p2=Param("qualifier", {0x00: "global PIN (purse)", 0x80: "plaintext PIN block (EMV)",
                           0x88: "enciphered PIN (EMV)"}, doc="reference data qualifier"),
    data=Struct("pin_block" / GreedyBytes), data_required=False,
    data_doc="PIN block (EMV: 2‖len‖digits‖F fill, 8 bytes) or BCD PIN",
    sws={0x9000: "verified", 0x63C0: "63Cx: wrong PIN, x tries left",
         0x6983: "PIN blocked", 0x6A88: "PIN not personalised"},
    security="none (the PIN try counter is the protection)",
    examples=(
        Example("plaintext PIN 1234", "0020008008241234FFFFFFFFFF",
                {"qualifier": 0x80, "data": {"pin_block": bytes.fromhex("241234FFFFFFFFFF")}}),
        Example("how many tries are left", "00200080", {"qualifier": 0x80}),
    ),
)

GET_CHALLENGE = CommandSpec(
    name="GET CHALLENGE", application=APP, cla=0x00, ins=0x84,
    summary="Get a random number from the card.",
    reference="ISO/IEC 7816-4 §11.5.3",
    response=RAW, ne=8,
    sws={0x9000: "returned", 0x6700: "unsupported length"},
    examples=(Example("8 random bytes", "0084000008", {"ne": 8}),),
)

READ_RECORD = CommandSpec(
    name="READ RECORD", application=APP, cla=0x00, ins=0xB2,
    summary="Read a record of a linear or cyclic file, selected by SFI.",
    reference="ISO/IEC 7816-4 §11.3.3; EMV Book 1 §11.2",
    p1=Param("record", doc="record number (1 = first / most recent in a cyclic file)"),
    p2=Param("reference", doc="(SFI << 3) | 04: record number in P1"),
    response=RAW, response_doc="record (EMV: template 70)", ne=256,
    sws={0x9000: "returned", 0x6A83: "record not found", 0x6A82: "file not found"},
    examples=(Example("SFI 1 record 1", "00B2010C00",
                      {"record": 1, "reference": 0x0C, "ne": 256}),),
)

register(SELECT, GET_RESPONSE, MANAGE_CHANNEL, GET_DATA, PUT_DATA, VERIFY, GET_CHALLENGE,
         READ_RECORD)
