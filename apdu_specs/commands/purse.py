"""Chip 2 points purse commands, in the form of the PBOC electronic purse (domain-facts §5).

Three purses share one application; P2 of GET BALANCE and of the INITIALIZE commands
picks the purse (01 consumption, 02 bank, 03 credit points) where PBOC picks ED/EP.
GET TRANSACTION PROVE names the purse in P1 (PBOC: 00). Each purse keeps its own cyclic
log under its own SFI. Layouts shared with personalisation are in :mod:`.purse_data`.

INS 50 is also GlobalPlatform INITIALIZE UPDATE; the registry tells them apart by
application (``purse:`` vs ``gp:``), and the card by which application is selected.
"""

from __future__ import annotations

from construct import Bytes, GreedyBytes, Int8ub, Int16ub, Int24ub, Int32ub, Struct

from .purse_data import LOG_CAPACITY, LOG_RECORD, Purse, TransactionType
from .registry import register
from .spec import CommandSpec, Example, Param

__all__ = [
    "CREDIT_FOR_LOAD",
    "DEBIT_FOR_PURCHASE",
    "GET_BALANCE",
    "GET_TRANSACTION_PROVE",
    "INITIALIZE_FOR_LOAD",
    "INITIALIZE_FOR_PURCHASE",
    "PURSE_COMMANDS",
    "READ_RECORD",
    "VERIFY",
]

APP = "purse"
_REF = "JR/T 0025 (PBOC 2.0) electronic purse as in domain-facts §5; docs/decisions-purse.md"

_PURSE_P2 = Param("purse", {p.value: f"{p.label} points" for p in Purse}, doc="which purse",
                  strict=True)
_LOCKED = {0x9303: "application permanently locked (too many wrong MACs)"}
_NOT_PERSONALISED = {0x6A88: "purse not personalised"}

# The published PBOC load (domain-facts V62): terminal 000001000050 loads 0x1C37 with key 01.
_VECTOR_INIT = "805000020B0100001C37000001000050"
_VECTOR_INIT_RESPONSE = "0000000000000100CDEF4F2006B1BEF5"
_VECTOR_CREDIT = "805200000B201408251031000641DCD8"

GET_BALANCE = CommandSpec(
    name="GET BALANCE", application=APP, cla=0x80, ins=0x5C,
    summary="Read one purse's balance (points, 4 bytes unsigned).",
    reference=f"{_REF} §5.1",
    p2=_PURSE_P2,
    response=Struct("balance" / Int32ub), response_doc="balance(4), big-endian", ne=4,
    sws={0x9000: "balance returned", **_NOT_PERSONALISED},
    examples=(Example("balance of the bank-points purse", "805C000204",
                      {"purse": 2, "ne": 4}, "00001C379000", {"balance": 0x1C37}),),
)

INITIALIZE_FOR_LOAD = CommandSpec(
    name="INITIALIZE FOR LOAD", application=APP, cla=0x80, ins=0x50,
    summary="Start a load: the card proves itself and its balance with MAC1 (session key SESLK).",
    reference=f"{_REF} §5.1, §5.3, §5.4",
    p1=Param("operation", fixed=0x00, doc="load"),
    p2=_PURSE_P2,
    data=Struct("key_index" / Int8ub, "amount" / Int32ub, "terminal_id" / Bytes(6)),
    data_doc="key index(1) ‖ amount(4) ‖ terminal ID(6)",
    response=Struct("balance" / Int32ub, "online_seq" / Int16ub, "key_version" / Int8ub,
                    "algorithm_id" / Int8ub, "random" / Bytes(4), "mac1" / Bytes(4)),
    response_doc="balance(4) ‖ online seq(2) ‖ key version(1) ‖ algorithm ID(1) ‖ random(4) ‖ "
                 "MAC1(4)",
    ne=16,
    sws={0x9000: "initialised; CREDIT FOR LOAD may follow",
         0x6A80: "amount zero or the balance would exceed the purse maximum",
         0x9402: "online sequence number exhausted", 0x9403: "key index not supported",
         **_LOCKED, **_NOT_PERSONALISED},
    examples=(Example("published PBOC load, 0x1C37 into purse 02 (domain-facts V62)",
                      _VECTOR_INIT,
                      {"purse": 2,
                       "data": {"key_index": 1, "amount": 0x1C37,
                                "terminal_id": bytes.fromhex("000001000050")}},
                      _VECTOR_INIT_RESPONSE + "9000",
                      {"balance": 0, "online_seq": 0, "key_version": 1, "algorithm_id": 0,
                       "random": bytes.fromhex("CDEF4F20"),
                       "mac1": bytes.fromhex("06B1BEF5")}),),
)

CREDIT_FOR_LOAD = CommandSpec(
    name="CREDIT FOR LOAD", application=APP, cla=0x80, ins=0x52,
    summary="Finish a load with the issuer's MAC2; the card credits and answers the TAC.",
    reference=f"{_REF} §5.1, §5.4, §5.5",
    data=Struct("date" / Bytes(4), "time" / Bytes(3), "mac2" / Bytes(4)),
    data_doc="date(4, BCD YYYYMMDD) ‖ time(3, BCD hhmmss) ‖ MAC2(4)",
    response=Struct("tac" / Bytes(4)), response_doc="TAC(4)", ne=4,
    sws={0x9000: "credited", 0x6985: "no INITIALIZE FOR LOAD before",
         0x6A80: "malformed date or time", 0x9302: "MAC2 wrong (counted; the load is cancelled)",
         **_LOCKED},
    security="MAC2 under SESLK",
    examples=(Example("published PBOC load, MAC2 from the issuer (domain-facts V62)",
                      _VECTOR_CREDIT,
                      {"data": {"date": bytes.fromhex("20140825"), "time": bytes.fromhex("103100"),
                                "mac2": bytes.fromhex("0641DCD8")}},
                      "ED0F87559000", {"tac": bytes.fromhex("ED0F8755")}),),
)

INITIALIZE_FOR_PURCHASE = CommandSpec(
    name="INITIALIZE FOR PURCHASE", application=APP, cla=0x80, ins=0x50,
    summary="Start a spend: the card answers its balance, offline counter and a random.",
    reference=f"{_REF} §5.1, §5.3",
    p1=Param("operation", fixed=0x01, doc="purchase"),
    p2=_PURSE_P2,
    data=Struct("key_index" / Int8ub, "amount" / Int32ub, "terminal_id" / Bytes(6)),
    data_doc="key index(1) ‖ amount(4) ‖ terminal ID(6)",
    response=Struct("balance" / Int32ub, "offline_seq" / Int16ub, "overdraft_limit" / Int24ub,
                    "key_version" / Int8ub, "algorithm_id" / Int8ub, "random" / Bytes(4)),
    response_doc="balance(4) ‖ offline seq(2) ‖ overdraft limit(3, always 0) ‖ "
                 "key version(1) ‖ algorithm ID(1) ‖ random(4)",
    ne=15,
    sws={0x9000: "initialised; DEBIT FOR PURCHASE may follow", 0x6A80: "amount zero",
         0x6982: "this purse needs the holder's PIN (VERIFY) first",
         0x9401: "insufficient balance", 0x9402: "offline sequence number exhausted",
         0x9403: "key index not supported", **_LOCKED, **_NOT_PERSONALISED},
    examples=(Example("spend 100 consumption points at terminal 000001000050",
                      "805001010B0100000064000001000050",
                      {"purse": 1,
                       "data": {"key_index": 1, "amount": 100,
                                "terminal_id": bytes.fromhex("000001000050")}},
                      "000003E8" "0005" "000000" "01" "80" "1A2B3C4D" "9000",
                      {"balance": 1000, "offline_seq": 5, "overdraft_limit": 0, "key_version": 1,
                       "algorithm_id": 0x80, "random": bytes.fromhex("1A2B3C4D")}),),
)

DEBIT_FOR_PURCHASE = CommandSpec(
    name="DEBIT FOR PURCHASE", application=APP, cla=0x80, ins=0x54,
    summary="Finish a spend with the terminal's MAC1; the card debits, answers TAC and MAC2.",
    reference=f"{_REF} §5.1, §5.4",
    p1=Param("operation", fixed=0x01, doc="purchase"),
    data=Struct("terminal_seq" / Int32ub, "date" / Bytes(4), "time" / Bytes(3),
                "mac1" / Bytes(4)),
    data_doc="terminal txn seq(4) ‖ date(4, BCD) ‖ time(3, BCD) ‖ MAC1(4)",
    response=Struct("tac" / Bytes(4), "mac2" / Bytes(4)), response_doc="TAC(4) ‖ MAC2(4)", ne=8,
    sws={0x9000: "debited", 0x6985: "no INITIALIZE FOR PURCHASE before",
         0x6A80: "malformed date or time",
         0x9302: "MAC1 wrong (counted; the purchase is cancelled)", **_LOCKED},
    security="MAC1 under SESPK",
    examples=(Example("terminal sequence 0x2A at 2024-05-01 12:30:00",
                      "805401000F0000002A20240501123000AABBCCDD",
                      {"data": {"terminal_seq": 0x2A, "date": bytes.fromhex("20240501"),
                                "time": bytes.fromhex("123000"),
                                "mac1": bytes.fromhex("AABBCCDD")}},
                      "0102030405060708" "9000",
                      {"tac": bytes.fromhex("01020304"), "mac2": bytes.fromhex("05060708")}),),
)

GET_TRANSACTION_PROVE = CommandSpec(
    name="GET TRANSACTION PROVE", application=APP, cla=0x80, ins=0x5A,
    summary="After a torn exchange: the MAC and TAC of the purse's transaction with this "
            "sequence number, if it happened.",
    reference=f"{_REF} §5.1 (P1 names the purse: a project extension)",
    p1=Param("purse", {p.value: f"{p.label} points" for p in Purse}, doc="which purse",
             strict=True),
    p2=Param("type", {TransactionType.LOAD: "load", TransactionType.PURCHASE: "purchase"},
             doc="transaction type", strict=True),
    data=Struct("seq" / Int16ub),
    data_doc="the online (load) or offline (purchase) sequence number INITIALIZE returned",
    response=Struct("mac" / Bytes(4), "tac" / Bytes(4)),
    response_doc="MAC2(4) ‖ TAC(4): the load's MAC2 as accepted, or the purchase's MAC2",
    ne=8,
    sws={0x9000: "the transaction happened", 0x9406: "no such transaction in the log",
         **_NOT_PERSONALISED},
    examples=(Example("did load 0000 of purse 02 happen?", "805A0202020000" "08",
                      {"purse": 2, "type": 2, "data": {"seq": 0}, "ne": 8},
                      "0641DCD8ED0F8755" "9000",
                      {"mac": bytes.fromhex("0641DCD8"), "tac": bytes.fromhex("ED0F8755")}),),
)

READ_RECORD = CommandSpec(
    name="READ RECORD", application=APP, cla=0x00, ins=0xB2,
    summary="Read a movement from a purse's cyclic log (record 1 is the most recent).",
    reference="ISO/IEC 7816-4 §11.3.3; log layout docs/decisions-purse.md",
    p1=Param("record", doc=f"record number 1–{LOG_CAPACITY}"),
    p2=Param("reference", {p.log_reference: f"{p.label} log (SFI {p.log_sfi:02X})" for p in Purse},
             doc="(SFI << 3) | 04", strict=True),
    response=LOG_RECORD,
    response_doc="counter(2) ‖ type(1) ‖ amount(4) ‖ balance after(4) ‖ terminal ID(6) ‖ "
                 "terminal seq(4) ‖ date(4) ‖ time(3) ‖ TAC(4)",
    ne=0x20,
    sws={0x9000: "record returned", 0x6A83: "no such record (yet)", **_NOT_PERSONALISED},
    examples=(Example("latest movement of the bank-points purse (SFI 19)", "00B201CC20",
                      {"record": 1, "reference": 0xCC, "ne": 32},
                      "0000" "02" "00001C37" "00001C37" "000001000050" "00000000" "20140825"
                      "103100" "ED0F8755" "9000",
                      {"counter": 0, "type": 2, "amount": 0x1C37, "balance_after": 0x1C37,
                       "terminal_id": bytes.fromhex("000001000050"), "terminal_seq": 0,
                       "date": bytes.fromhex("20140825"), "time": bytes.fromhex("103100"),
                       "tac": bytes.fromhex("ED0F8755")}),),
)

VERIFY = CommandSpec(
    name="VERIFY", application=APP, cla=0x00, ins=0x20,
    summary="Present the holder's purse PIN (BCD); without data, ask how many tries are left.",
    reference="ISO/IEC 7816-4 §11.5.6; domain-facts §5.1",
    p2=Param("qualifier", fixed=0x00, doc="the purse PIN"),
    data=Struct("pin" / GreedyBytes), data_required=False,
    data_doc="PIN in BCD, F-padded to whole bytes (4–12 digits)",
    sws={0x9000: "verified", 0x63C0: "63Cx: wrong PIN, x tries left", 0x6983: "PIN blocked",
         0x6A88: "no PIN personalised"},
    examples=(Example("PIN 123456", "0020000003123456", {"data": {"pin": bytes.fromhex("123456")}}),
              Example("how many tries are left", "00200000", {})),
)

PURSE_COMMANDS = (GET_BALANCE, INITIALIZE_FOR_LOAD, CREDIT_FOR_LOAD, INITIALIZE_FOR_PURCHASE,
                  DEBIT_FOR_PURCHASE, GET_TRANSACTION_PROVE, READ_RECORD, VERIFY)

register(*PURSE_COMMANDS)
