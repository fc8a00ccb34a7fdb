"""Secure channel state per logical channel, in the ISD's transient memory.

Theory of operation
-------------------
Each logical channel on which the ISD is selected has one :class:`ChannelState` in
``ram.on_deselect`` — cleared on reset, on deselection and when the ISD is selected
again on that channel. It holds the pending handshake (between INITIALIZE UPDATE and
EXTERNAL AUTHENTICATE), the open session, the DEK of that session, the application
named by INSTALL [for personalization] with its STORE DATA progress, and GET STATUS
entries still to be paged out.

:func:`unwrap` runs before dispatch: a command with the secure-messaging CLA bit is
verified and decrypted by the session; any failure (bad C-MAC, bad padding, no session)
closes the session and answers 6982, dropping the channel to "not authenticated". A
plain command that needs security while a C-MAC session is open does the same.
:func:`wrap` adds R-MAC / R-ENC to the answer when the session's level asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apdu_specs.apdu import CommandAPDU
from apdu_specs.crypto.errors import CryptoError, FormatError
from apdu_specs.crypto.scp03.params import SecurityLevel
from apdu_specs.crypto.secure_messaging import SecureMessagingSession
from apdu_specs.errors import APDUFormatError
from apdu_specs.sw import SW, SWError
from cardlib.applet import APDUContext
from cardlib.memory import TransientMemory

from .access import Requirement
from .personalization import StoreDataSession
from .protocols import CardSideHandshake, DataEncryptionKey

__all__ = ["ChannelState", "Channels", "check_requirement", "state_in", "unwrap", "wrap"]

_C_MAC = int(SecurityLevel.C_MAC)  # a plain int: IntFlag arithmetic is slow on a hot path
# module-level names: an enum member looked up on its class costs more than a global
_NONE = Requirement.NONE
_NEEDS_C_MAC = Requirement.C_MAC
#: the RAM key of each logical channel's state (channels 0-19)
_CHANNEL_KEYS = tuple(f"channel/{n}" for n in range(20))


def _channel_key(channel: int) -> str:
    return _CHANNEL_KEYS[channel] if 0 <= channel < 20 else f"channel/{channel}"


@dataclass
class ChannelState:
    handshake: CardSideHandshake | None = None
    handshake_kvn: int = 0
    handshake_counter: int = 0
    session: SecureMessagingSession | None = None
    kvn: int = 0
    dek: DataEncryptionKey | None = None
    perso: StoreDataSession | None = None
    status_pending: list[bytes] = field(default_factory=list)
    status_key: tuple[int, int] | None = None

    @property
    def authenticated(self) -> bool:
        return self.session is not None and self.session.is_open

    @property
    def level(self) -> int:
        return int(self.session.security_level) if self.session is not None and self.authenticated else -1

    def drop_session(self) -> None:
        """Back to "not authenticated": nothing of the old session survives."""
        if self.session is not None:
            self.session.close()
        self.session = None
        self.dek = None
        self.handshake = None
        self.perso = None


def state_in(ram: TransientMemory, channel: int) -> ChannelState:
    """The state of ``channel`` in the ISD's RAM (created on first use)."""
    key = _channel_key(channel)
    on_deselect = ram.on_deselect
    state = on_deselect.get(key)
    if state is None:
        state = on_deselect[key] = ChannelState()
    return state


class Channels:
    """The ISD's per-channel states inside its RAM."""

    def __init__(self, ram: TransientMemory) -> None:
        self._ram = ram

    def get(self, channel: int) -> ChannelState:
        return state_in(self._ram, channel)

    def states(self) -> list[ChannelState]:
        """The states of every channel the ISD has seen since it was last deselected."""
        return [v for k, v in self._ram.on_deselect.items() if k.startswith("channel/")]

    def reset(self, channel: int) -> None:
        old = self._ram.on_deselect.pop(_channel_key(channel), None)
        if old is not None:
            old.drop_session()


def _abort(state: ChannelState, why: str) -> SWError:
    state.drop_session()
    return SWError(SW.SECURITY_STATUS_NOT_SATISFIED, why)


def unwrap(state: ChannelState, ctx: APDUContext, requirement: Requirement) -> APDUContext:
    """The plain command to dispatch, or SWError 6982 (the session is then gone)."""
    apdu = ctx.apdu
    cla = apdu.cla
    sm_bits = 0 if cla & 0x40 else cla & 0x0C
    if sm_bits and not (cla & 0x80 and sm_bits == 0x04):
        raise SWError(SW.SECURE_MESSAGING_NOT_SUPPORTED, "only GlobalPlatform secure messaging")
    session = state.session
    if session is not None and not session.is_open:
        session = None  # what state.authenticated says
    if not sm_bits:
        if session is not None and session.protects_commands and requirement is not _NONE:
            raise _abort(state, "command without the C-MAC the session requires")
        return ctx
    if session is None or not session.protects_commands:
        raise _abort(state, "secure messaging without a session that expects it")
    try:
        # What ``session.unwrap_command(apdu.encode())`` and parsing its answer give,
        # without encoding the command only to split it again (the plain CLA has the
        # secure-messaging bits cleared; CLAs of channels 4-19 never get here).
        if apdu.is_extended:
            raise FormatError("extended-length APDUs are not supported by secure messaging")
        data = session.unprotect_command(apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data)
        plain = CommandAPDU(apdu.cla & ~0x0C, apdu.ins, apdu.p1, apdu.p2, data, apdu.ne)
    except (CryptoError, APDUFormatError) as exc:
        raise _abort(state, str(exc)) from None
    return APDUContext(plain, ctx.channel, secure=True)


def check_requirement(state: ChannelState, requirement: Requirement) -> None:
    """6982 unless the channel's session meets ``requirement``."""
    if requirement is _NONE:
        return
    session = state.session
    if session is None or not session.is_open:  # what state.authenticated says, inlined
        raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED, "no secure channel")
    if requirement is _NEEDS_C_MAC and not int(session.security_level) & _C_MAC:
        raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED, "security level lacks C-MAC")


def wrap(state: ChannelState, data: bytes, sw: int) -> bytes:
    """The data field to answer a command that came through the session with: ``data``
    with the response protection the session's level asks for."""
    session = state.session
    if session is None or not session.is_open:
        return data
    return session.protect_response(data, sw)
