"""What every part of the ISD reads: its profile, identity, keys, channels and chip content."""

from __future__ import annotations

from cardlib.applet import APDUContext, Applet
from cardlib.content import ChipContent

from ._content import chip_content
from .channel import Channels, ChannelState, state_in
from .identity import CardIdentity
from .keystore import KeyStore
from .profile import ISDProfile

__all__ = ["SecurityDomainBase"]


class SecurityDomainBase(Applet):
    """Accessors shared by the ISD's command groups (no handlers here)."""

    @property
    def profile(self) -> ISDProfile:
        value = self.store.get("profile")
        return ISDProfile() if value is None else ISDProfile.from_value(value)

    @property
    def identity(self) -> CardIdentity:
        value = self.store.get("identity")
        if value is None:
            return CardIdentity.derive("blank", str(self.env.services.get("chip_role", "")))
        return CardIdentity.from_value(value)

    def set_identity(self, identity: CardIdentity) -> None:
        self.store.set("identity", identity.to_value())

    @property
    def keystore(self) -> KeyStore:
        return KeyStore(self.store)

    @property
    def channels(self) -> Channels:
        return Channels(self.ram)

    def channel_state(self, ctx: APDUContext) -> ChannelState:
        return state_in(self.env.ram, ctx.channel)

    @property
    def content(self) -> ChipContent:
        return chip_content(self.env)
