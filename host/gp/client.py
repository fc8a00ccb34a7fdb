"""A GlobalPlatform client for one chip: typed methods over any transport.

Theory of operation: :class:`GPClient` sends what :mod:`.apdus` builds, through the open
:class:`~.secure_channel.SecureChannel` if there is one (which wraps each command and
unwraps each answer), and checks every status word with :func:`apdu_specs.sw.check`, so
an unexpected SW raises :class:`~apdu_specs.sw.CardError` naming the command. The
transport should already complete 61xx/6Cxx exchanges (``host.transport.t0``), as the
transports of :func:`host.connect.open_card` do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from apdu_specs.apdu import CommandAPDU, ResponseAPDU
from apdu_specs.commands.globalplatform import PUT_KEY
from apdu_specs.commands.gp_extra import (
    DEFAULT_ISD_AID,
    CardRecognition,
    KeyInfo,
    RegistryEntry,
    parse_card_recognition,
    parse_cplc,
    parse_key_information,
    parse_registry,
)
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.errors import SpecError
from apdu_specs.sw import check
from apdu_specs.tlv import TLV, parse_tlvs
from host.transport.base import Transport

from . import apdus
from .apdus import DGI
from .errors import GPUsageError, KCVMismatchError, ResponseError
from .keyspec import KeySpec
from .secure_channel import (
    ChannelOptions,
    SecureChannel,
    card_authentication_flow,
    run_flow,
    secure_channel_flow,
)

__all__ = ["CardStates", "GPClient", "Subset"]

T = TypeVar("T")


class Subset:
    """GET STATUS P1 values."""

    ISD = 0x80
    APPLICATIONS = 0x40
    LOAD_FILES = 0x20
    LOAD_FILES_AND_MODULES = 0x10


class CardStates:
    """SET STATUS P2 values for the card (P1 = 80)."""

    INITIALIZED = 0x07
    SECURED = 0x0F
    CARD_LOCKED = 0x7F
    TERMINATED = 0xFF


#: the command name of each STORE DATA block number (for status word errors)
_STORE_DATA_NAMES = tuple(f"STORE DATA block {n:02X}" for n in range(256))


class GPClient:
    """Talk GlobalPlatform to the security domain of one chip."""

    def __init__(self, transport: Transport, *, isd_aid: bytes = DEFAULT_ISD_AID) -> None:
        self.transport = transport
        self.isd_aid = isd_aid
        self.channel: SecureChannel | None = None

    # --- exchange ------------------------------------------------------------------------
    def send(self, apdu: CommandAPDU, command: str, *,
             expect: Sequence[int] = (0x9000,)) -> ResponseAPDU:
        """Send one command (protected when a channel is open); check its status word."""
        channel = self.channel
        raw = apdu.encode() if channel is None else channel.wrap_apdu(apdu)
        response = self.transport.transmit(raw)
        if len(response) < 2:
            raise ResponseError(f"{command}: answer of {len(response)} byte(s) has no status word")
        if channel is not None:
            response = channel.unwrap(response)
        resp = ResponseAPDU.parse(response)
        if resp.sw not in expect:  # the common case without a call; check() raises
            check(resp.sw, command=command, expect=expect, data=resp.data)
        return resp

    # --- session -------------------------------------------------------------------------
    def select(self, aid: bytes | None = None) -> bytes:
        """SELECT the security domain (its FCI); closes any open channel."""
        self.channel = None
        return self.send(apdus.select(aid or self.isd_aid), "SELECT").data

    def open_secure_channel(self, keys: KeySpec, options: ChannelOptions | None = None, *,
                            host_challenge: bytes | None = None,
                            random: Callable[[int], bytes] = os.urandom) -> SecureChannel:
        """INITIALIZE UPDATE + EXTERNAL AUTHENTICATE; raises ``AuthenticationError`` on refusal."""
        self.channel = None
        flow = secure_channel_flow(keys, options or ChannelOptions(),
                                   host_challenge=host_challenge, random=random)
        self.channel = run_flow(self.transport.transmit, flow)
        return self.channel

    def authenticate_card(self, keys: KeySpec, options: ChannelOptions | None = None, *,
                          random: Callable[[int], bytes] = os.urandom) -> dict[str, Any]:
        """INITIALIZE UPDATE alone: check that the card holds key set ``options.kvn`` with
        ``keys`` (its cryptogram), without a session; ``AuthenticationError`` if not."""
        self.channel = None  # INITIALIZE UPDATE ends any session of this channel
        details: dict[str, Any] = run_flow(self.transport.transmit, card_authentication_flow(
            keys, options or ChannelOptions(), random=random))
        return details

    # --- content management --------------------------------------------------------------
    def install(self, load_file: bytes, module: bytes, aid: bytes, *, privileges: bytes = b"\x00",
                params: bytes = b"", make_selectable: bool = True) -> None:
        self.send(apdus.install(load_file, module, aid, privileges=privileges, params=params,
                                make_selectable=make_selectable), "INSTALL [for install]")

    def make_selectable(self, aid: bytes) -> None:
        self.send(apdus.make_selectable(aid), "INSTALL [for make selectable]")

    def install_for_personalization(self, aid: bytes) -> None:
        self.send(apdus.install_for_personalization(aid), "INSTALL [for personalization]")

    def store_data(self, dgis: Sequence[DGI], *,
                   block_size: int = apdus.MAX_STORE_DATA_BLOCK) -> int:
        """Send DGIs to the application named by :meth:`install_for_personalization`.

        Sensitive DGIs are encrypted under the session DEK. Returns the number of blocks.
        """
        blocks = apdus.store_data(dgis, encrypt=self._channel("STORE DATA").encrypt_sensitive,
                                  block_size=block_size)
        for block in blocks:
            self.send(block, _STORE_DATA_NAMES[block.p2])
        return len(blocks)

    def personalize(self, aid: bytes, dgis: Sequence[DGI]) -> int:
        """INSTALL [for personalization] then STORE DATA."""
        self.install_for_personalization(aid)
        return self.store_data(dgis)

    def delete(self, aid: bytes, *, related: bool = False) -> None:
        self.send(apdus.delete(aid, related=related), "DELETE")

    def get_status(self, subset: int, *, aid_prefix: bytes = b"") -> list[RegistryEntry]:
        """Registry entries of ``subset`` (paging through 6310); [] when nothing matches."""
        entries: list[RegistryEntry] = []
        apdu = apdus.get_status(subset, aid_prefix=aid_prefix)
        while True:
            resp = self.send(apdu, "GET STATUS", expect=(0x9000, 0x6310, 0x6A88))
            if resp.sw == 0x6A88:
                return entries
            entries += self._parse(parse_registry, resp.data, "GET STATUS")
            if resp.sw == 0x9000:
                return entries
            apdu = apdus.get_status(subset, next_occurrence=True, aid_prefix=aid_prefix)

    def set_card_status(self, state: int) -> None:
        self.send(apdus.set_status(0x80, state), "SET STATUS (card)")

    def set_application_status(self, aid: bytes, state: int) -> None:
        self.send(apdus.set_status(0x40, state, aid), "SET STATUS (application)")

    def lock_application(self, aid: bytes) -> None:
        self.set_application_status(aid, 0x80)

    def unlock_application(self, aid: bytes) -> None:
        self.set_application_status(aid, 0x00)

    # --- keys ----------------------------------------------------------------------------
    def put_key(self, keys: StaticKeys, new_kvn: int, *, replace_kvn: int = 0x00) -> None:
        """Add (``replace_kvn=0``) or replace a key set; the card's KCVs must match ours."""
        channel = self._channel("PUT KEY")
        if keys.algorithm is not channel.key_algorithm:
            raise GPUsageError(f"this card takes {channel.key_algorithm.value} keys, "
                               f"not {keys.algorithm.value}")
        entries = [channel.key_component(k) for k in (keys.enc, keys.mac, keys.dek)]
        self.put_key_entries(entries, list(keys.kcvs()), new_kvn, replace_kvn=replace_kvn)

    def put_key_entries(self, entries: Sequence[dict[str, object]], kcvs: Sequence[bytes],
                        new_kvn: int, *, replace_kvn: int = 0x00) -> None:
        """PUT KEY of ENC, MAC and DEK encrypted under the DEK elsewhere (an HSM), with
        their KCVs; the card's KCVs must match them."""
        resp = self.send(apdus.put_key_entries(entries, new_kvn, replace_kvn=replace_kvn),
                         "PUT KEY")
        expected = PUT_KEY.build_response({"key_version": new_kvn, "kcvs": list(kcvs)})
        if resp.data != expected:
            raise KCVMismatchError(
                f"PUT KEY: card answered {resp.data.hex().upper()}, expected KVN {new_kvn:02X} "
                f"and KCVs {'/'.join(k.hex().upper() for k in kcvs)}")

    def delete_key(self, kvn: int) -> None:
        self.send(apdus.delete_key(kvn), "DELETE KEY")

    # --- data objects ------------------------------------------------------------------------
    def get_data(self, tag: int) -> bytes | None:
        """The value of data object ``tag``; None when the card has none (6A88)."""
        resp = self.send(apdus.get_data(tag), f"GET DATA {tag:04X}", expect=(0x9000, 0x6A88))
        if resp.sw == 0x6A88:
            return None
        objs = self._parse(parse_tlvs, resp.data, f"GET DATA {tag:04X}")
        return objs[0].value if objs and objs[0].tag == tag else resp.data

    def cplc(self) -> dict[str, bytes] | None:
        value = self.get_data(0x9F7F)
        return None if value is None else self._parse(parse_cplc, value, "CPLC")

    def card_recognition(self) -> CardRecognition | None:
        value = self.get_data(0x66)
        return None if value is None else self._parse(
            parse_card_recognition, TLV.build(0x66, value).encode(), "card data")

    def key_information(self) -> list[KeyInfo]:
        value = self.get_data(0xE0)
        return [] if value is None else self._parse(
            parse_key_information, TLV.build(0xE0, value).encode(), "key information")

    # --- helpers -----------------------------------------------------------------------------
    def _channel(self, command: str) -> SecureChannel:
        if self.channel is None:
            raise GPUsageError(f"{command} needs an open secure channel")
        return self.channel

    @staticmethod
    def _parse(parser: Callable[[bytes], T], data: bytes, what: str) -> T:
        try:
            return parser(data)
        except SpecError as exc:
            raise ResponseError(f"{what}: {exc}") from None
