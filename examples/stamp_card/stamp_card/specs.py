"""The stamp card's commands: one declarative spec each (pure protocol, no card state).

A merchant stamps the card at each purchase; after ten stamps the customer redeems
them for a reward. The same specs drive the card's dispatcher, the host client, the
trace decoder and the conformance suite.
"""

from __future__ import annotations

from construct import Bytes, Int8ub, Int16ub, Struct

from apdu_specs.commands.spec import CommandSpec, Example

__all__ = ["AID", "APPLICATION", "LOAD_FILE_AID", "MODULE_AID", "READ", "REDEEM", "SPECS", "STAMP",
           "STAMPS_PER_REWARD"]

APPLICATION = "stamp"
#: under the proprietary RID F0: "F0" + "STAMP" names the load file
LOAD_FILE_AID = bytes.fromhex("F05354414D50")
MODULE_AID = bytes.fromhex("F05354414D5001")
#: the instance the tutorial installs
AID = bytes.fromhex("F05354414D500101")
STAMPS_PER_REWARD = 10
_REFERENCE = "docs/applets.md (example application)"

STAMP = CommandSpec(
    name="STAMP", application=APPLICATION, cla=0x80, ins=0x30,
    summary="Add one stamp for a purchase at a merchant.",
    reference=_REFERENCE,
    data=Struct("merchant" / Bytes(4)), data_doc="merchant ID (4)",
    response=Struct("stamps" / Int8ub), response_doc="stamps on the card now (1)", ne=1,
    sws={0x9000: "stamped", 0x6A84: "the card is full: redeem first"},
    examples=(Example("stamp at merchant 00000042", "803000000400000042" "01",
                      {"data": {"merchant": bytes.fromhex("00000042")}, "ne": 1},
                      "01" "9000", {"stamps": 1}),),
)

READ = CommandSpec(
    name="READ", application=APPLICATION, cla=0x80, ins=0x32,
    summary="Read the stamps and how many rewards were redeemed.",
    reference=_REFERENCE,
    response=Struct("stamps" / Int8ub, "redeemed" / Int16ub),
    response_doc="stamps(1) ‖ rewards redeemed(2)", ne=3,
    sws={0x9000: "read"},
    examples=(Example("read the card", "8032000003", {"ne": 3},
                      "03" "0001" "9000", {"stamps": 3, "redeemed": 1}),),
)

REDEEM = CommandSpec(
    name="REDEEM", application=APPLICATION, cla=0x80, ins=0x34,
    summary=f"Trade {STAMPS_PER_REWARD} stamps for a reward.",
    reference=_REFERENCE,
    response=Struct("redeemed" / Int16ub), response_doc="rewards redeemed so far (2)", ne=2,
    sws={0x9000: "redeemed", 0x6985: f"fewer than {STAMPS_PER_REWARD} stamps"},
    examples=(Example("redeem a full card", "8034000002", {"ne": 2},
                      "0001" "9000", {"redeemed": 1}),),
)

SPECS = (STAMP, READ, REDEEM)
