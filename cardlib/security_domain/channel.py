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
from apdu_specs.crypto.errors import CryptoError
from apdu_specs.crypto.scp03.params import SecurityLevel
from apdu_specs.crypto.secure_messaging import SecureMessagingSession
from apdu_specs.errors import APDUFormatError
from apdu_specs.sw import SW, SWError
from cardlib.applet import APDUContext, Response
from cardlib.memory import TransientMemory

from .access import Requirement
from .personalization import StoreDataSession
from .protocols import CardSideHandshake, DataEncryptionKey

__all__ = ["ChannelState", "Channels", "check_requirement", "unwrap", "wrap"]


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
        return int(self.session.security_level) if self.authenticated else -1

    def drop_session(self) -> None:
        """Back to "not authenticated": nothing of the old session survives."""
        if self.session is not None:
            self.session.close()
        self.session = None
        self.dek = None
        self.handshake = None
        self.perso = None


class Channels:
    """The ISD's per-channel states inside its RAM."""

    def __init__(self, ram: TransientMemory) -> None:
        self._ram = ram

    def get(self, channel: int) -> ChannelState:
        state = self._ram.on_deselect.get(f"channel/{channel}")
        if state is None:
            state = ChannelState()
            self._ram.on_deselect[f"channel/{channel}"] = state
        return state

    def states(self) -> list[ChannelState]:
        """The states of every channel the ISD has seen since it was last deselected."""
        return [v for k, v in self._ram.on_deselect.items() if k.startswith("channel/")]

    def reset(self, channel: int) -> None:
        old = self._ram.on_deselect.pop(f"channel/{channel}", None)
        if old is not None:
            old.drop_session()


def _abort(state: ChannelState, why: str) -> SWError:
    state.drop_session()
    return SWError(SW.SECURITY_STATUS_NOT_SATISFIED, why)


def unwrap(state: ChannelState, ctx: APDUContext, requirement: Requirement) -> APDUContext:
    """The plain command to dispatch, or SWError 6982 (the session is then gone)."""
    cla = ctx.apdu.cla
    sm_bits = 0 if cla & 0x40 else cla & 0x0C
    if sm_bits and not (cla & 0x80 and sm_bits == 0x04):
        raise SWError(SW.SECURE_MESSAGING_NOT_SUPPORTED, "only GlobalPlatform secure messaging")
    protected = bool(sm_bits)
    session = state.session if state.authenticated else None
    if not protected:
        if session is not None and session.protects_commands and requirement > Requirement.NONE:
            raise _abort(state, "command without the C-MAC the session requires")
        return ctx
    if session is None or not session.protects_commands:
        raise _abort(state, "secure messaging without a session that expects it")
    try:
        plain = session.unwrap_command(ctx.apdu.encode())
        apdu = CommandAPDU.parse(plain)
    except (CryptoError, APDUFormatError) as exc:
        raise _abort(state, str(exc)) from None
    return APDUContext(apdu, ctx.channel, secure=True)


def check_requirement(state: ChannelState, requirement: Requirement) -> None:
    """6982 unless the channel's session meets ``requirement``."""
    if requirement is Requirement.NONE:
        return
    if not state.authenticated:
        raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED, "no secure channel")
    if requirement is Requirement.C_MAC and not state.level & SecurityLevel.C_MAC:
        raise SWError(SW.SECURITY_STATUS_NOT_SATISFIED, "security level lacks C-MAC")


def wrap(state: ChannelState, response: Response, secured: bool) -> Response:
    """Add response protection to the answer of a command that came through the session."""
    session = state.session
    if not secured or session is None or not session.is_open:
        return response
    return Response(session.protect_response(response.data, response.sw), response.sw)
