"""The applet framework: what an application on a simulated chip is.

An applet keeps *no* persistent state in Python attributes: everything durable
lives in its :class:`~cardlib.memory.MemoryView`, so a card image, a snapshot
or a tear restores it exactly. Handlers are bound to command specs from
``apdu_specs`` with :func:`handles`; the spec parses the APDU, and a parse
failure becomes the status word the spec names (6A86 for P1/P2, 6700 for
lengths, 6A80 for data).

Rule of thumb for handlers: *return* commits the command's writes, *raise*
:class:`~apdu_specs.sw.SWError` aborts them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from apdu_specs.apdu import CLA, CommandAPDU
from apdu_specs.caches import BoundedCache
from apdu_specs.commands.spec import CommandSpec
from apdu_specs.errors import SpecError
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import TLV

from .memory import MemoryView, TransientMemory

__all__ = ["APDUContext", "Applet", "AppletEnv", "Handler", "Response", "handles"]


@dataclass(frozen=True)
class Response:
    """Response data and status word; 9000 by default."""

    data: bytes = b""
    sw: int = SW.OK


@dataclass
class APDUContext:
    """One command as the applet sees it."""

    apdu: CommandAPDU
    channel: int = 0
    #: set by a security domain that unwrapped secure messaging for this command
    secure: bool = False

    @property
    def cla(self) -> CLA:
        return CLA.decode(self.apdu.cla)

    @property
    def ins(self) -> int:
        return self.apdu.ins

    @property
    def p1(self) -> int:
        return self.apdu.p1

    @property
    def p2(self) -> int:
        return self.apdu.p2

    @property
    def data(self) -> bytes:
        return self.apdu.data


@dataclass
class AppletEnv:
    """What the chip gives an applet instance: its identity, memory and services."""

    aid: bytes
    store: MemoryView
    ram: TransientMemory = field(default_factory=TransientMemory)
    #: chip services published by others (e.g. "security_domain", "card_identity")
    services: dict[str, Any] = field(default_factory=dict)
    random: Callable[[int], bytes] = os.urandom


_ParseKey = tuple[int, int, int, int, bytes, int | None]
#: (id of the spec, INS, P1, P2, data, Ne) → (the spec, its parse of such a command)
_PARSED: BoundedCache[_ParseKey, tuple[CommandSpec, dict[str, Any]]] = BoundedCache(
    "cardlib.applet._PARSED", 512)


def _shared_parse(spec: CommandSpec, apdu: CommandAPDU) -> dict[str, Any]:
    """``spec.parse(apdu)``, shared by identical commands (a personalisation run sends the
    same INSTALL and GET STATUS commands to every card). Parsing is a pure function of the
    spec and the command; the answer is shared, so it is only given to handlers that never
    change it. Failures are not kept: they raise every time."""
    key = (id(spec), apdu.ins, apdu.p1, apdu.p2, apdu.data, apdu.ne)
    hit = _PARSED.get(key)
    if hit is not None and hit[0] is spec:
        return hit[1]
    fields = spec.parse(apdu)
    _PARSED.put(key, (spec, fields))
    return fields


Handler = Callable[[Any, APDUContext, dict[str, Any]], "Response | bytes | None"]


def handles(spec: CommandSpec) -> Callable[[Handler], Handler]:
    """Bind a method to the command spec it implements."""

    def deco(fn: Handler) -> Handler:
        specs = getattr(fn, "_dualcard_specs", ())
        fn._dualcard_specs = (*specs, spec)  # type: ignore[attr-defined]
        return fn

    return deco


class Applet:
    """Base class of every application on a simulated chip."""

    #: may the same instance be selected on several logical channels at once?
    multiselectable: ClassVar[bool] = False
    #: human name for registries and docs
    title: ClassVar[str] = ""
    #: commands (by INS) whose parsed fields identical commands may share: their handlers
    #: only read the fields and their data carries nothing secret (see :func:`_shared_parse`)
    shared_parse_ins: ClassVar[frozenset[int]] = frozenset()
    #: INS → (spec, handler name, the spec's proprietary-class bit 0x80 or 0) per spec
    _dispatch: ClassVar[dict[int, list[tuple[CommandSpec, str, int]]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[int, list[tuple[CommandSpec, str, int]]] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                for spec in getattr(member, "_dualcard_specs", ()):
                    entries = [e for e in table.get(spec.ins, []) if e[0].key != spec.key]
                    table[spec.ins] = [*entries, (spec, name, spec.cla & 0x80)]
        cls._dispatch = table

    def __init__(self, env: AppletEnv) -> None:
        self.env = env

    # --- life cycle hooks ------------------------------------------------------------
    @property
    def aid(self) -> bytes:
        return self.env.aid

    @property
    def store(self) -> MemoryView:
        return self.env.store

    @property
    def ram(self) -> TransientMemory:
        return self.env.ram

    def on_install(self, params: bytes) -> None:
        """Called once, inside the INSTALL transaction, with the install parameters (C9 value)."""

    def on_delete(self) -> None:
        """Called before the instance and its memory are removed."""

    def select(self, ctx: APDUContext) -> Response | bytes:
        """Answer a SELECT that chose this applet; the default FCI names the AID."""
        return TLV.build(0x6F, [TLV.build(0x84, self.aid)]).encode()

    def deselect(self) -> None:
        """Called when another applet takes this channel; RAM marked so is cleared after."""

    def personalize(self, dgi: int, data: bytes) -> None:
        """One DGI of STORE DATA routed here by the security domain."""
        raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"DGI {dgi:04X} unknown to this applet")

    def end_personalization(self) -> None:
        """Called in the last STORE DATA block's transaction (P1 b8 set) once its DGIs are in.

        EMV CPS applications move themselves to PERSONALIZED at that point when their data
        is complete (see :meth:`mark_personalized`); the default does nothing, and the
        issuer then sets the state with SET STATUS.
        """

    def mark_personalized(self) -> None:
        """Move this instance from SELECTABLE to PERSONALIZED (GP application state 0F).

        An application may set its own application-specific state (GP 2.3 §5.3.1); only
        SELECTABLE moves, so a locked or already personalised instance is left alone.
        """
        content = self.env.services.get("content")
        if content is not None:
            content.mark_personalized(self.aid)

    # --- dispatch -------------------------------------------------------------------
    def process(self, ctx: APDUContext) -> Response | bytes | None:
        """Dispatch by INS to the handler bound to the matching spec."""
        apdu = ctx.apdu
        entries = self._dispatch.get(apdu.ins)
        if not entries:
            raise SWError(SW.INS_NOT_SUPPORTED)
        errors: list[SpecError] = []
        cla_matched = False
        proprietary = apdu.cla & 0x80
        for spec, name, spec_proprietary in entries:
            if spec_proprietary != proprietary:
                continue
            cla_matched = True
            try:
                if apdu.ins in self.shared_parse_ins:
                    fields = _shared_parse(spec, apdu)
                else:
                    fields = spec.parse(apdu)
            except SpecError as exc:
                errors.append(exc)
                continue
            return getattr(self, name)(ctx, fields)
        if not cla_matched:
            raise SWError(SW.CLA_NOT_SUPPORTED)
        # Prefer the complaint of a spec whose P1/P2 fitted (INS is shared by several specs).
        chosen = next((e for e in errors if e.sw != SW.INCORRECT_P1P2), errors[0])
        raise SWError(chosen.sw, str(chosen))
