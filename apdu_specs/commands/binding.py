"""Chip 1's personal reader binding: bind, unbind, and the reader's mutual authentication.

Implemented by the payment application (the card enforces its binding on its own
payment commands); the bytes they carry are computed by :mod:`apdu_specs.payment.binding`.
A bound application is in *personal mode*: GET PROCESSING OPTIONS, VERIFY and
GENERATE AC answer 6982 until READER AUTHENTICATE and READER CONFIRM succeeded with
the bound reader in the same selection. The examples are the dualcard test card's
(debit application, AES CVN 22) with fixed nonces.
"""

from __future__ import annotations

from construct import Bytes, GreedyBytes, Struct

from ..payment.binding import NONCE_LENGTH, PROOF_LENGTH, READER_ID_LENGTH
from .registry import register
from .spec import CommandSpec, Example, Param

APP = "payment"

_ISSUER_SECURITY = ("issuer secure messaging: 8-byte MAC with SK-SMI (R = card challenge "
                    "from GET CHALLENGE) over CLA INS P1 P2 Lc ‖ binding counter ‖ "
                    "challenge ‖ data")
_ISSUER_SWS = {0x9000: "done", 0x6987: "command without secure messaging (CLA without SM bit)",
               0x6988: "MAC wrong (the challenge is spent)",
               0x6985: "no GET CHALLENGE in this selection, or the card's binding state "
                       "does not allow it (already bound, not bound)"}

BIND_READER = CommandSpec(
    name="BIND READER", application=APP, cla=0x84, ins=0x42,
    summary="Issuer command: bind the application to a personal reader (id and binding key).",
    reference="dualcard personal reader binding (docs/personal-reader.md)",
    p1=Param("operation", {0x00: "bind (the application is not bound)",
                           0x01: "rebind (replace the binding: lost or new reader)"},
             strict=True),
    data=Struct("reader_id" / Bytes(READER_ID_LENGTH), "payload" / GreedyBytes),
    data_doc="reader id (8) ‖ binding key enciphered with SK-SMC (E(len ‖ key), "
             "padding method 2) ‖ MAC (8)",
    sws={**_ISSUER_SWS, 0x6A80: "enciphered binding key malformed or of the wrong length",
         0x6700: "data too short"},
    security=_ISSUER_SECURITY + "; the binding key enciphered with SK-SMC",
    examples=(Example(
        "bind reader 5244000000000001 (challenge spent: 6985 out of sequence)",
        "8442000030524400000000000100112233445566778899AABBCCDDEEFF00112233445566778899AAB"
        "BCCDDEEFF0011223344556677",
        {"operation": 0, "data": {"reader_id": bytes.fromhex("5244000000000001"),
                                  "payload": bytes.fromhex(
                                      "00112233445566778899AABBCCDDEEFF"
                                      "00112233445566778899AABBCCDDEEFF0011223344556677")}}),),
)

UNBIND_READER = CommandSpec(
    name="UNBIND READER", application=APP, cla=0x84, ins=0x44,
    summary="Issuer command: remove the binding (the application leaves personal mode).",
    reference="dualcard personal reader binding (docs/personal-reader.md)",
    data=Struct("mac" / Bytes(PROOF_LENGTH)), data_doc="MAC (8)",
    sws={**_ISSUER_SWS, 0x6700: "the data is not one 8-byte MAC"},
    security=_ISSUER_SECURITY,
    examples=(Example("unbind (challenge spent: 6985 out of sequence)",
                      "84440000080011223344556677",
                      {"data": {"mac": bytes.fromhex("0011223344556677")}}),),
)

READER_AUTHENTICATE = CommandSpec(
    name="READER AUTHENTICATE", application=APP, cla=0x80, ins=0x46,
    summary="The reader's challenge: the card answers a fresh nonce and its cryptogram.",
    reference="dualcard personal reader binding (docs/personal-reader.md)",
    data=Struct("reader_id" / Bytes(READER_ID_LENGTH), "reader_nonce" / Bytes(NONCE_LENGTH)),
    data_doc="reader id (8) ‖ reader nonce RN (8)",
    response=Struct("card_nonce" / Bytes(NONCE_LENGTH), "card_proof" / Bytes(PROOF_LENGTH)),
    response_doc="card nonce CN (8) ‖ MAC_KB('CARD' ‖ reader id ‖ RN ‖ CN) (8)",
    ne=256,
    sws={0x9000: "card authenticated itself; READER CONFIRM next",
         0x6A88: "the application is not bound to this reader (unbound, or bound to another)",
         0x6700: "data of the wrong length"},
    security="none; the cryptograms are the proof",
    examples=(Example("reader 5244000000000001, nonce 0102030405060708",
                      "80460000105244000000000001010203040506070800",
                      {"data": {"reader_id": bytes.fromhex("5244000000000001"),
                                "reader_nonce": bytes.fromhex("0102030405060708")},
                       "ne": 256}),),
)

READER_CONFIRM = CommandSpec(
    name="READER CONFIRM", application=APP, cla=0x80, ins=0x48,
    summary="The reader's answer to the card nonce; personal mode's payment commands open.",
    reference="dualcard personal reader binding (docs/personal-reader.md)",
    data=Struct("reader_proof" / Bytes(PROOF_LENGTH)),
    data_doc="MAC_KB('READ' ‖ reader id ‖ CN ‖ RN) (8)",
    sws={0x9000: "reader authenticated until the application is deselected",
         0x6300: "reader cryptogram wrong (the card nonce is spent)",
         0x6985: "no READER AUTHENTICATE pending (out of sequence, or a replay)",
         0x6700: "data of the wrong length"},
    security="none; the cryptograms are the proof",
    examples=(Example("reader cryptogram (no authentication pending: 6985)",
                      "8048000008A1A2A3A4A5A6A7A8",
                      {"data": {"reader_proof": bytes.fromhex("A1A2A3A4A5A6A7A8")}}),),
)

register(BIND_READER, UNBIND_READER, READER_AUTHENTICATE, READER_CONFIRM)
