"""A minimal applet for runtime benchmarks: SELECT it, READ BINARY 256 bytes from it.

It measures the card runtime (parsing, dispatch, atomic commit, response sizing),
not an application: the same work every applet's command goes through.
"""

from __future__ import annotations

from construct import GreedyBytes

from apdu_specs.commands.spec import CommandSpec, Example, Param
from apdu_specs.sw import SW
from cardlib.applet import APDUContext, Applet, handles
from cardlib.chip import Chip
from cardlib.registry import LoadFile, register_load_file
from simulator.atr import build_atr
from simulator.runtime import ChipRuntime

LOAD_FILE = bytes.fromhex("F0000000FE")
MODULE = bytes.fromhex("F0000000FE01")
AID = bytes.fromhex("F0000000FE0101")
SELECT = bytes.fromhex("00A4040007F0000000FE010100")
READ_256 = bytes.fromhex("00B0000000")

READ_BINARY = CommandSpec(
    name="READ BINARY", application="bench", cla=0x00, ins=0xB0,
    summary="read the applet's 256-byte object", reference="ISO/IEC 7816-4 §11.3.3",
    p1=Param("offset_high"), p2=Param("offset_low"), response=GreedyBytes, ne=256,
    sws={SW.OK: "read"}, examples=(Example("256 bytes", "00B0000000",
                                           {"offset_high": 0, "offset_low": 0, "ne": 256}),))

_DATA = bytes(i & 0xFF for i in range(256))


class BenchApplet(Applet):
    title = "benchmark applet"

    @handles(READ_BINARY)
    def read(self, ctx: APDUContext, fields: dict) -> bytes:
        offset = (fields["offset_high"] << 8) | fields["offset_low"]
        return _DATA[offset:offset + fields.get("ne", 256)]


register_load_file(LoadFile(LOAD_FILE, "bench", {MODULE: BenchApplet}))


def bench_runtime() -> ChipRuntime:
    chip = Chip("chip1")
    chip.content.install(LOAD_FILE, MODULE, AID)
    rt = ChipRuntime(chip, build_atr(b"BENCH"))
    rt.power_on()
    return rt
