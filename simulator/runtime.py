"""The ISO/IEC 7816 runtime of one simulated chip.

Theory of operation
-------------------
``transmit`` takes raw command bytes and always returns response bytes ending
in a status word — unless the chip has no power (never powered, torn, pulled
out), in which case it raises :class:`~simulator.errors.CardMute`, as a reader
would report a mute card. Nothing else escapes: applet errors become their
status word, unexpected exceptions become ``6F00`` and are recorded in
:attr:`ChipRuntime.internal_errors` (and logged) so tests can fail on them.

The runtime owns what a card OS owns: the ATR and power states, logical
channels (MANAGE CHANNEL) with one selected application each, SELECT by AID
(full or partial, first or next occurrence), command chaining (data of chained
commands is reassembled before the applet sees it), and response sizing:
``61xx`` + GET RESPONSE when the answer is longer than Ne or Le was absent,
``6Cxx`` when a short Le is wrong.

Each command runs in one memory transaction: a successful (or warning) answer
commits it, any error aborts it.

Wrong Le (6Cxx): the command has run, so its answer exists, but the terminal must not
be told of an effect it never saw the answer of. The runtime *holds* the command: its
transaction stays open (nothing is durable) and its answer waits. When the very same
command (CLA, INS, P1, P2 and data as received) comes next with a Le the answer fits,
the runtime commits the held transaction and hands out the held answer without running
the command again; anything else first (another command, GET RESPONSE, a reset or a
power loss) rolls the held command back, as if it had failed. So a re-sent command
runs exactly once, and RAM the command used (a purse session, a payment transaction's
progress, a secure channel's MAC chaining) is never spent by an answer nobody received.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from apdu_specs.apdu import CLA, CommandAPDU
from apdu_specs.errors import APDUFormatError
from apdu_specs.sw import SW, SWError, is_success
from cardlib.applet import APDUContext, Response
from cardlib.chip import Chip
from cardlib.content import CardLifeCycle
from cardlib.memory import PowerLoss

from .errors import CardMute
from .faults import Fault, ForcedSW, MuteCard, TruncatedResponse

__all__ = ["ChipRuntime"]

log = logging.getLogger(__name__)

INS_SELECT = 0xA4
INS_MANAGE_CHANNEL = 0x70
INS_GET_RESPONSE = 0xC0
_FILE_SELECTIONS = frozenset((0x00, 0x01, 0x02, 0x03, 0x08, 0x09))


def _sw_bytes(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


@dataclass(frozen=True)
class _Held:
    """A command answered 6Cxx: its transaction is still open and its answer waits here."""

    command: tuple[int, int, int, int, bytes]  #: CLA INS P1 P2 data, as received
    data: bytes
    sw: int


def _command_key(apdu: CommandAPDU) -> tuple[int, int, int, int, bytes]:
    """What a re-sent command must repeat: everything but Le."""
    return apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data


@dataclass
class _Channel:
    selected: bytes | None = None
    chain_ins: int | None = None
    chain_data: bytearray = field(default_factory=bytearray)


class ChipRuntime:
    """One chip behind its contacts. Satisfies :class:`simulator.chip_protocol.ChipLike`."""

    def __init__(self, chip: Chip, atr: bytes, *, max_channels: int = 4,
                 on_internal_error: Callable[[str], None] | None = None) -> None:
        if not 1 <= max_channels <= 20:
            raise ValueError("max_channels must be 1..20")
        self.chip = chip
        self._atr = atr
        self.max_channels = max_channels
        self.powered = False
        self.faults: list[Fault] = []
        self.internal_errors: list[str] = []
        self._on_internal_error = on_internal_error
        self._channels: dict[int, _Channel] = {}
        self._pending = b""
        #: the command that answered 6Cxx, waiting for its re-send (see the module doc)
        self._held: _Held | None = None
        #: the command as received (the last block of a chain), for :class:`_Held`
        self._received: CommandAPDU | None = None
        self.apdu_count = 0

    # --- power -----------------------------------------------------------------------
    @property
    def atr(self) -> bytes:
        return self._atr

    def power_on(self) -> bytes:
        self.chip.memory.power_up()
        self.chip.content.clear_all_ram()
        self._channels = {0: _Channel()}
        self._pending = b""
        self._held = None
        self.powered = True
        self._select_default(0)
        return self._atr

    def reset(self) -> bytes:
        return self.power_on()

    def power_off(self) -> None:
        self.powered = False
        self.chip.memory.abort_all()
        self.chip.content.clear_all_ram()
        self._channels = {}
        self._pending = b""
        self._held = None

    def _select_default(self, channel: int) -> None:
        rec = self.chip.content.default_application()
        if rec is not None:
            self._channels[channel].selected = rec.aid

    # --- the one entry point -------------------------------------------------------------
    def transmit(self, apdu: bytes) -> bytes:
        if not self.powered:
            raise CardMute("the chip is not powered")
        self.apdu_count += 1
        fault = self._take_fault(apdu[1] if len(apdu) > 1 else -1) if self.faults else None
        if fault is not None:
            if isinstance(fault, MuteCard):
                self.power_off()
                raise CardMute("card pulled out (fault injection)")
            if isinstance(fault, ForcedSW):
                return _sw_bytes(fault.sw)
        try:
            response = self._transmit(apdu if type(apdu) is bytes else bytes(apdu))
        except PowerLoss as exc:
            self.power_off()
            raise CardMute(f"power lost: {exc}") from None
        if fault is not None and isinstance(fault, TruncatedResponse):
            return response[:fault.keep]
        return response

    def _take_fault(self, ins: int) -> Fault | None:
        for fault in self.faults:
            if fault.matches(ins):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _transmit(self, raw: bytes) -> bytes:
        try:
            apdu = CommandAPDU.parse(raw)
        except APDUFormatError:
            return _sw_bytes(SW.WRONG_LENGTH)
        self._received = apdu
        if self._held is not None:
            answer = self._resume_held(apdu)
            if answer is not None:
                return answer
        try:
            cla = CLA.decode(apdu.cla)
        except APDUFormatError:
            return _sw_bytes(SW.CLA_NOT_SUPPORTED)
        if cla.channel not in self._channels:
            self._pending = b""
            return _sw_bytes(SW.LOGICAL_CHANNEL_NOT_SUPPORTED)
        if apdu.ins == INS_GET_RESPONSE and not cla.proprietary:
            return self._get_response(apdu)
        self._pending = b""
        content = self.chip.content
        if content.card_state == CardLifeCycle.TERMINATED:
            return self._terminated(apdu)
        channel = self._channels[cla.channel]
        if cla.chaining or channel.chain_ins is not None:
            apdu_or_done = self._reassemble_chain(channel, apdu, cla)
            if isinstance(apdu_or_done, bytes):
                return apdu_or_done
            apdu = apdu_or_done
        ins = apdu.ins
        if ins == INS_MANAGE_CHANNEL and not cla.proprietary:
            return self._manage_channel(apdu, cla.channel)
        if ins == INS_SELECT and not cla.proprietary:
            if apdu.p1 == 0x04:
                return self._select(apdu, cla.channel)
            # The chips carry applications, not a file system (ISO/IEC 7816-4 §11.2.2).
            return _sw_bytes(SW.FILE_NOT_FOUND if apdu.p1 in _FILE_SELECTIONS
                             else SW.INCORRECT_P1P2)
        selected = channel.selected
        if selected is None:
            return _sw_bytes(SW.FILE_NOT_FOUND)
        return self._run(selected, APDUContext(apdu, cla.channel))

    def _terminated(self, apdu: CommandAPDU) -> bytes:
        # GP 2.3 §5.1.1.5: a terminated card answers only GET DATA (CPLC and the like).
        selected = self._channels[0].selected
        if apdu.ins == 0xCA and selected is not None:
            return self._run(selected, APDUContext(apdu, 0))
        return _sw_bytes(SW.CONDITIONS_NOT_SATISFIED)

    # --- running a command atomically ----------------------------------------------
    def _run(self, aid: bytes, ctx: APDUContext, *, select: bool = False) -> bytes:
        """Run the command on the applet ``aid`` (its ``select`` or ``process``) in one
        memory transaction, and turn the answer or the error into response bytes."""
        apdu = ctx.apdu
        mem = self.chip.memory
        mem.begin()
        try:
            applet = self.chip.content.instance(aid)
            result = applet.select(ctx) if select else applet.process(ctx)
            if type(result) is bytes:  # the usual answer: data and 9000
                data, sw, ok = result, 0x9000, True
            else:
                resp = result if isinstance(result, Response) else Response(bytes(result or b""))
                data, sw = resp.data, resp.sw
                ok = is_success(sw) or sw >> 8 in (0x62, 0x63)
        except SWError as exc:
            mem.abort_all()
            return _sw_bytes(exc.sw)
        except PowerLoss:
            raise
        except Exception:
            mem.abort_all()
            self._internal_error(apdu)
            return _sw_bytes(SW.NO_PRECISE_DIAGNOSIS)
        if not ok:
            mem.abort_all()
            return _sw_bytes(sw)
        return self._complete(apdu, data, sw)

    def _complete(self, apdu: CommandAPDU, data: bytes, sw: int) -> bytes:
        """Commit a successful command and size its answer, or hold it on a wrong short Le."""
        if data and apdu.ne is not None and len(data) > apdu.ne \
                and not apdu.is_extended and len(data) <= 256:
            self._held = _Held(_command_key(self._received or apdu), data, sw)
            return _sw_bytes(0x6C00 | (len(data) & 0xFF))
        self.chip.memory.commit()
        return self._size_response(data, sw, apdu.ne)

    def _resume_held(self, apdu: CommandAPDU) -> bytes | None:
        """The held answer if ``apdu`` re-sends the held command; else roll it back (None)."""
        held, self._held = self._held, None
        assert held is not None
        if _command_key(apdu) == held.command:
            return self._complete(apdu, held.data, held.sw)
        self.chip.memory.abort_all()
        return None

    def _internal_error(self, apdu: CommandAPDU) -> None:
        text = f"{self.chip.role}: unexpected exception on {apdu}:\n{traceback.format_exc()}"
        self.internal_errors.append(text)
        log.error("%s", text)
        if self._on_internal_error is not None:
            self._on_internal_error(text)

    def _size_response(self, data: bytes, sw: int, ne: int | None) -> bytes:
        if not data:
            return _sw_bytes(sw)
        limit = 256 if ne is None else ne
        if ne is not None and len(data) <= limit:
            return data + _sw_bytes(sw)
        # Le absent (T=0 case 4) or more than Ne: hand the rest out through GET RESPONSE.
        if ne is None:
            self._pending = data
            return _sw_bytes(0x6100 | (len(data) & 0xFF if len(data) < 256 else 0))
        head, self._pending = data[:limit], data[limit:]
        rest = len(self._pending)
        return head + _sw_bytes(0x6100 | (rest if rest < 256 else 0))

    def _get_response(self, apdu: CommandAPDU) -> bytes:
        if apdu.data:
            self._pending = b""
            return _sw_bytes(SW.WRONG_LENGTH)
        if apdu.p1 or apdu.p2:
            self._pending = b""
            return _sw_bytes(SW.INCORRECT_P1P2)
        if not self._pending:
            return _sw_bytes(SW.CONDITIONS_NOT_SATISFIED)
        ne = apdu.ne or 256
        head, rest = self._pending[:ne], self._pending[ne:]
        self._pending = rest
        if rest:
            return head + _sw_bytes(0x6100 | (len(rest) if len(rest) < 256 else 0))
        return head + _sw_bytes(SW.OK)

    # --- chaining ---------------------------------------------------------------------
    def _reassemble_chain(self, channel: _Channel, apdu: CommandAPDU,
                          cla: CLA) -> CommandAPDU | bytes:
        if cla.chaining:
            if channel.chain_ins is not None and channel.chain_ins != apdu.ins:
                channel.chain_ins, channel.chain_data = None, bytearray()
                return _sw_bytes(SW.LAST_COMMAND_OF_CHAIN_EXPECTED)
            channel.chain_ins = apdu.ins
            channel.chain_data += apdu.data
            if len(channel.chain_data) > 65535:
                channel.chain_ins, channel.chain_data = None, bytearray()
                return _sw_bytes(SW.WRONG_LENGTH)
            return _sw_bytes(SW.OK)
        if channel.chain_ins is None:
            return apdu
        if channel.chain_ins != apdu.ins:
            channel.chain_ins, channel.chain_data = None, bytearray()
            return _sw_bytes(SW.LAST_COMMAND_OF_CHAIN_EXPECTED)
        data = bytes(channel.chain_data) + apdu.data
        channel.chain_ins, channel.chain_data = None, bytearray()
        try:
            return apdu.replace(data=data)
        except APDUFormatError:
            return _sw_bytes(SW.WRONG_LENGTH)

    # --- channels and selection --------------------------------------------------------
    def _manage_channel(self, apdu: CommandAPDU, origin: int) -> bytes:
        if apdu.p1 == 0x00:  # open
            if apdu.data:
                return _sw_bytes(SW.WRONG_LENGTH)
            wanted = apdu.p2
            if wanted == 0:
                free = [n for n in range(1, self.max_channels) if n not in self._channels]
                if not free:
                    return _sw_bytes(SW.FUNCTION_NOT_SUPPORTED)
                wanted = free[0]
            elif wanted >= self.max_channels or wanted in self._channels:
                return _sw_bytes(SW.INCORRECT_P1P2)
            self._channels[wanted] = _Channel()
            # ISO 7816-4 §7.1.2: opened from channel 0 → default application;
            # from another channel → the same application as that channel.
            if origin == 0:
                self._select_default(wanted)
            else:
                sel = self._channels[origin].selected
                if sel is not None and self._can_share(sel, wanted):
                    self._channels[wanted].selected = sel
            return (bytes([wanted]) + _sw_bytes(SW.OK)) if apdu.p2 == 0 else _sw_bytes(SW.OK)
        if apdu.p1 == 0x80:  # close
            target = apdu.p2 or origin
            if target == 0:
                return _sw_bytes(SW.INCORRECT_P1P2)
            if target not in self._channels:
                return _sw_bytes(SW.INCORRECT_P1P2)
            self._deselect(target)
            del self._channels[target]
            return _sw_bytes(SW.OK)
        return _sw_bytes(SW.INCORRECT_P1P2)

    def _can_share(self, aid: bytes, channel: int) -> bool:
        elsewhere = any(c.selected == aid for n, c in self._channels.items() if n != channel)
        if not elsewhere:
            return True
        try:
            return type(self.chip.content.instance(aid)).multiselectable
        except SWError:
            return False

    def _deselect(self, channel: int) -> None:
        current = self._channels[channel].selected
        if current is None:
            return
        self._channels[channel].selected = None
        try:
            applet = self.chip.content.instance(current)
        except SWError:
            return
        applet.deselect()
        if not any(c.selected == current for c in self._channels.values()):
            self.chip.content.ram_of(current).clear_deselect()

    def _select(self, apdu: CommandAPDU, channel_no: int) -> bytes:
        channel = self._channels[channel_no]
        occurrence = apdu.p2 & 0x03
        if occurrence not in (0x00, 0x02) or apdu.p2 & 0xF0:
            return _sw_bytes(SW.INCORRECT_P1P2)
        after = channel.selected if occurrence == 0x02 else None
        rec = self.chip.content.find(apdu.data, after)
        if rec is None:
            return _sw_bytes(SW.FILE_NOT_FOUND)
        if not self.chip.content.selectable(rec):
            return _sw_bytes(SW.FILE_NOT_FOUND)
        if rec.aid != channel.selected and not self._can_share(rec.aid, channel_no):
            return _sw_bytes(SW.CONDITIONS_NOT_SATISFIED)
        self._deselect(channel_no)
        response = self._run(rec.aid, APDUContext(apdu, channel_no), select=True)
        sw = int.from_bytes(response[-2:], "big")
        if is_success(sw) or sw >> 8 in (0x62, 0x63, 0x6C):
            channel.selected = rec.aid
        if apdu.p2 & 0x0C == 0x0C and is_success(sw):  # "no response data" requested
            self._pending = b""
            return _sw_bytes(SW.OK)
        return response

    # --- inspection --------------------------------------------------------------------
    def selected(self, channel: int = 0) -> bytes | None:
        ch = self._channels.get(channel)
        return None if ch is None else ch.selected

    @property
    def open_channels(self) -> list[int]:
        return sorted(self._channels)
