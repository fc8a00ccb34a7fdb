"""A toy purse applet for runtime tests: a balance, a counter and a log that must move together."""

from __future__ import annotations

from construct import GreedyBytes, Int32ub, Struct

from apdu_specs.commands.layouts import RAW
from apdu_specs.commands.spec import CommandSpec, Example, Param
from apdu_specs.sw import SW, SWError
from cardlib.applet import APDUContext, Applet, Response, handles
from cardlib.registry import LoadFile, register_load_file

LOAD_FILE_AID = bytes.fromhex("F0000000FF")
MODULE_AID = bytes.fromhex("F0000000FF01")
TOY_AID = bytes.fromhex("F0000000FF0101")

CREDIT = CommandSpec(
    name="TOY CREDIT", application="toy", cla=0x80, ins=0x10, summary="add to the balance",
    reference="test", data=Struct("amount" / Int32ub), sws={0x9000: "ok"},
    examples=(Example("credit 5", "8010000400000005", {"data": {"amount": 5}}),))
READ = CommandSpec(
    name="TOY READ", application="toy", cla=0x80, ins=0x12, summary="n bytes of pattern",
    reference="test", p1=Param("length_hi"), p2=Param("length_lo"), response=RAW, ne=256,
    sws={0x9000: "ok"}, examples=(Example("read 4", "8012000400", {"length_hi": 0,
                                                                  "length_lo": 4, "ne": 256}),))
ECHO = CommandSpec(
    name="TOY ECHO", application="toy", cla=0x80, ins=0x14, summary="echo data",
    reference="test", data=Struct("payload" / GreedyBytes), response=RAW, ne=256,
    sws={0x9000: "ok"}, examples=(Example("echo", "80140000020102", {"data": {"payload": b"\x01\x02"}}),))
TICKET = CommandSpec(
    name="TOY TICKET", application="toy", cla=0x80, ins=0x18,
    summary="P1=00 puts a one-use ticket in RAM; P1=01 spends it on a credit of 1",
    reference="test", p1=Param("action", {0: "issue", 1: "redeem"}, strict=True), response=RAW,
    ne=256, sws={0x9000: "ok", 0x6985: "no ticket"},
    examples=(Example("issue", "8018000000", {"action": 0, "ne": 256}),))
BOOM = CommandSpec(
    name="TOY BOOM", application="toy", cla=0x80, ins=0x16, summary="raises a bug",
    reference="test", sws={0x6F00: "internal error"}, examples=(Example("boom", "80160000", {}),))


class ToyPurse(Applet):
    title = "toy purse"

    @handles(CREDIT)
    def credit(self, ctx: APDUContext, fields: dict) -> Response:
        amount = fields["data"]["amount"]
        balance = self.store.get("balance", 0) + amount
        if balance > 1_000_000:
            raise SWError(SW.WRONG_DATA, "over the maximum")
        counter = self.store.get("counter", 0)
        self.store.set("balance", balance)
        self.store.set("counter", counter + 1)
        self.store.set(f"log/{counter % 4}", (counter, amount, balance))
        return Response(balance.to_bytes(4, "big"))

    @handles(READ)
    def read(self, ctx: APDUContext, fields: dict) -> bytes:
        n = (fields["length_hi"] << 8) | fields["length_lo"]
        return bytes(i & 0xFF for i in range(n))

    @handles(ECHO)
    def echo(self, ctx: APDUContext, fields: dict) -> bytes:
        return fields["data"]["payload"]

    @handles(TICKET)
    def ticket(self, ctx: APDUContext, fields: dict) -> bytes:
        """RAM spent by a command, as a purse session is: one ticket, one redemption."""
        if fields["action"] == 0:
            self.ram.on_deselect["ticket"] = True
            return b""
        if not self.ram.on_deselect.pop("ticket", False):
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "no ticket")
        balance = self.store.get("balance", 0) + 1
        self.store.set("balance", balance)
        return balance.to_bytes(4, "big")

    @handles(BOOM)
    def boom(self, ctx: APDUContext, fields: dict) -> bytes:
        raise RuntimeError("a bug in an applet")


class MultiToy(ToyPurse):
    multiselectable = True


TOY_LOAD_FILE = register_load_file(LoadFile(LOAD_FILE_AID, "toy", {
    MODULE_AID: ToyPurse, MODULE_AID[:-1] + b"\x02": MultiToy}))
