"""Personalise one chip through its issuer security domain, in an order that survives tearing.

Theory of operation
-------------------
Every write is one GP command, and the card applies each command atomically, so a card
torn at any moment holds the effect of some prefix of this sequence:

1. for each application, in profile order: INSTALL → INSTALL [for personalization] and
   STORE DATA blocks → PERSONALIZED, the application's marker: set by the application
   itself in its last STORE DATA block's transaction (EMV CPS applications do; the
   profile's ``marks_personalized``), else by SET STATUS (application);
2. PUT KEY: the issuer's per-card keys replace the factory test keys (KVN FF), one command;
3. SET STATUS (card) SECURED — the chip's marker, written last.

The run always starts by looking (nothing is written but the secure channel's own sequence
counter): which key set the ISD has (FF: factory keys, else the profile's KVN: issuer
keys; the channel is opened with FF first, then with the issuer's KVN), the card life
cycle, the applications and their states. From there it *resumes*: an application already
PERSONALIZED is kept, one present but not PERSONALIZED was cut short and is deleted and
installed afresh (its half-written data cannot be trusted, and a purse never takes its
opening state twice), PUT KEY is skipped when the issuer keys are in, and a SECURED chip
is finished. Anything else (a locked or terminated card, key sets that are neither FF nor
the issuer's) is reported and nothing is written.

The PIN: a run that was cut short had generated a PIN that was never mailed, and any
application it finished carries that PIN. So every application that is *kept* receives
this run's PIN again (its PIN DGI alone, through INSTALL [for personalization] and STORE
DATA, which a security domain accepts from the issuer's keys in any state but LOCKED):
the card ends up with exactly the PIN that is mailed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from apdu_specs.crypto.scp03 import SecurityLevel
from host.gp import ChannelOptions, GPClient, KeySpec, Subset, UnknownKeySetError
from host.gp.client import CardStates

from .card_keys import INITIAL_KVN, CardKeys, factory_key_spec
from .errors import AuthenticationError, CardStateError
from .plan import AppPlan

__all__ = ["CHIP_LEVEL", "PERSONALIZED", "ChipReport", "ChipState", "open_chip", "personalise_chip"]

#: C-MAC and C-DECRYPTION on every command (secret DGIs are also encrypted under the DEK)
CHIP_LEVEL = SecurityLevel.C_MAC | SecurityLevel.C_DECRYPTION
#: GP application-specific state "personalised" (GPC 2.3 §5.3.1)
PERSONALIZED = 0x0F
_OP_READY, _INITIALIZED, _SECURED = 0x01, 0x07, 0x0F
_LIFE_CYCLE = {0x01: "OP_READY", 0x07: "INITIALIZED", 0x0F: "SECURED", 0x7F: "CARD_LOCKED",
               0xFF: "TERMINATED"}


@dataclass(frozen=True)
class ChipState:
    """What the chip looked like when the run began (read in the secure channel)."""

    chip: int
    kvn: int
    card_state: int
    applications: dict[bytes, int]

    @property
    def factory_keys(self) -> bool:
        return self.kvn == INITIAL_KVN

    @property
    def secured(self) -> bool:
        return self.card_state == _SECURED

    @property
    def life_cycle(self) -> str:
        return _LIFE_CYCLE.get(self.card_state, f"{self.card_state:02X}")


@dataclass
class ChipReport:
    """What a run did to one chip."""

    chip: int
    state: ChipState
    isd_kcvs: str = ""
    installed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    pins_refreshed: list[str] = field(default_factory=list)
    keys_replaced: bool = False
    secured_now: bool = False

    @property
    def resumed(self) -> bool:
        return bool(self.kept or self.restarted or self.pins_refreshed
                    or not self.state.factory_keys)


def _options(kvn: int, keys: CardKeys) -> ChannelOptions:
    algorithm = keys.profile.suite.algorithm
    return ChannelOptions(level=CHIP_LEVEL, kvn=kvn, algorithm=algorithm)


def _try_key_set(client: GPClient, chip: int, kvn: int, spec: KeySpec,
                 keys: CardKeys) -> bool:
    """Open the channel with key set ``kvn``; False when the card has no such key set."""
    try:
        client.open_secure_channel(spec, _options(kvn, keys))
    except UnknownKeySetError:
        return False  # 6A88: nothing was computed, nothing written, nothing counted
    except AuthenticationError as exc:
        raise AuthenticationError(f"chip {chip}: {exc}") from None
    return True


def open_chip(client: GPClient, chip: int, keys: CardKeys, *,
              fresh: bool = False) -> ChipState:
    """SELECT the ISD, open the secure channel with the right key set, read the chip's state.

    ``fresh``: the chip was made blank by the caller moments ago (a simulated card a target
    has just manufactured), so its state is known — OP_READY, the factory keys, no
    application, the ISD selected by the reset (it is the default-selected application) —
    and only the secure channel is opened.

    The factory keys (FF) are tried first, then the issuer's: INITIALIZE UPDATE with a key
    version the card lacks answers 6A88 and changes nothing, so asking is cheaper than
    listing the key sets first (GET DATA E0 is only read to name them in an error).
    """
    if fresh:
        if not _try_key_set(client, chip, INITIAL_KVN, factory_key_spec(), keys):
            raise CardStateError(f"chip {chip}: a blank card without the factory keys (FF)")
        return ChipState(chip, INITIAL_KVN, _OP_READY, {})
    client.select()
    issuer_kvn = keys.profile.isd_key_version
    if _try_key_set(client, chip, INITIAL_KVN, factory_key_spec(), keys):
        kvn = INITIAL_KVN
    elif _try_key_set(client, chip, issuer_kvn, keys.isd_spec, keys):
        kvn = issuer_kvn
    else:
        versions = {info.kvn for info in client.key_information()}
        shown = ", ".join(f"{v:02X}" for v in sorted(versions)) or "none"
        raise CardStateError(f"chip {chip}: key sets {shown} are neither the factory keys (FF) "
                             f"nor this issuer's ({issuer_kvn:02X}); nothing written")
    isd = client.get_status(Subset.ISD)
    if not isd:
        raise CardStateError(f"chip {chip}: GET STATUS lists no issuer security domain")
    apps = {entry.aid: entry.state for entry in client.get_status(Subset.APPLICATIONS)}
    return ChipState(chip, kvn, isd[0].state, apps)


def personalise_chip(client: GPClient, state: ChipState, apps: Sequence[AppPlan],
                     keys: CardKeys) -> ChipReport:
    """Bring one chip, opened by :func:`open_chip`, to SECURED with ``apps`` on it."""
    chip = state.chip
    report = ChipReport(chip, state)
    channel = client.channel
    assert channel is not None
    if state.secured:
        report.isd_kcvs = keys.isd_kcvs(channel.kdd)
        for app in apps:
            if state.applications.get(app.spec.aid) != PERSONALIZED:
                raise CardStateError(f"chip {chip} is SECURED without {app.spec.label}")
            _refresh_pin(client, app, report)
        return report
    if state.card_state not in (_OP_READY, _INITIALIZED):
        raise CardStateError(f"chip {chip} is {state.life_cycle}: it cannot be personalised")
    for app in apps:
        _application(client, app, state, report, keys)
    if state.factory_keys:
        report.isd_kcvs = keys.put_isd_keys(client, channel.kdd)
        report.keys_replaced = True
    else:
        report.isd_kcvs = keys.isd_kcvs(channel.kdd)
    client.set_card_status(CardStates.SECURED)
    report.secured_now = True
    return report


def _application(client: GPClient, app: AppPlan, state: ChipState, report: ChipReport,
                 keys: CardKeys) -> None:
    spec = app.spec
    current = state.applications.get(spec.aid)
    if current == PERSONALIZED:
        report.kept.append(spec.name)
        _refresh_pin(client, app, report)
        return
    if current is not None:
        client.delete(spec.aid)
        report.restarted.append(spec.name)
    client.install(spec.load_file, spec.module, spec.aid, privileges=spec.privileges,
                   params=app.install_params)
    assert client.channel is not None
    client.personalize(spec.aid, keys.sealed(app.dgis, app.secrets, client.channel))
    if not spec.marks_personalized:
        client.set_application_status(spec.aid, PERSONALIZED)
    report.installed.append(spec.name)


def _refresh_pin(client: GPClient, app: AppPlan, report: ChipReport) -> None:
    """Give a finished application this run's PIN (the earlier run's PIN was never mailed)."""
    if app.pin_dgis:
        client.personalize(app.spec.aid, list(app.pin_dgis))
        report.pins_refreshed.append(app.spec.name)
