"""One card, both chips, one pass: personalise, write the stripe, read back, mail the PIN.

:class:`Personaliser` holds what every card of a run shares (profile, master keys, the
issuer's number store, PIN mailer) and :meth:`Personaliser.personalise` takes one card's
transports. The order is what keeps a torn or interrupted card from ever being reported
as issued:

1. each chip is brought to SECURED (:mod:`.chip_run`; resumable at any write);
2. the stripe is encoded (when the reader has an encoder);
3. the card is read back (:mod:`.verify`) — a difference raises
   :class:`~.errors.VerificationMismatch`;
4. the number store records the card as issued;
5. the PIN line goes to the mailer (synced to disk);
6. only then does the caller record the card as issued.

A card whose chips were all SECURED before the run began is read back first: if it
carries this holder's data (a run cut short after its last write, or a card issued
again), it only receives this run's PIN; otherwise it is somebody else's card and is
refused (:class:`~.errors.AlreadyPersonalisedError`) before anything is written. Numbers
the store says are issued go on no other card: a card that is not already theirs is
refused (:class:`~.errors.AlreadyIssuedError`) before anything is written.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from host.gp import GPClient
from host.keystore import KeyFile
from host.payment.stripe import StripeTracks
from host.transport.base import Transport

from .card_data import CardData, CardNumbers, resolve_card
from .card_keys import CardKeyFactory, CardKeys
from .chip_run import ChipReport, open_chip, personalise_chip
from .errors import AlreadyIssuedError, AlreadyPersonalisedError, VerificationMismatch
from .estimate import APDUCount, count_apdus
from .holders import HolderRecord
from .numbering import RUN_ORIGIN, NumberStore
from .pin_mailer import PINMailer
from .plan import CardPlan, CardPlanner
from .profile import Profile
from .verify import verify_card

__all__ = ["CardReport", "Personaliser", "StripeWriter"]

#: writes tracks 1 and 2 to the card's stripe (the encoder of a personalisation machine)
StripeWriter = Callable[[StripeTracks], None]


@dataclass
class CardReport:
    """The outcome of one card (only built for a card that was issued or planned)."""

    plan: CardPlan
    chips: dict[int, ChipReport] = field(default_factory=dict)
    stripe_written: bool = False
    verified: bool = False
    estimate: APDUCount | None = None

    @property
    def card(self) -> CardData:
        return self.plan.card

    @property
    def resumed(self) -> bool:
        return any(r.resumed for r in self.chips.values())

    def kcvs(self) -> dict[str, str]:
        """Per-card key check values: ISD keys of each chip, application keys."""
        out = {f"chip{n}.isd": r.isd_kcvs for n, r in sorted(self.chips.items()) if r.isd_kcvs}
        return {**out, **self.plan.kcvs}


class Personaliser:
    """Personalises cards of one profile with one key file, or with the keys of a token
    (:class:`~.token_keys.TokenCardKeys`).

    ``numbers``: the issuer's number store, where every card's PAN and card identity come
    from (without it, each holder record must bring both, and nothing checks them).
    """

    def __init__(self, profile: Profile, keys: KeyFile | CardKeys, *,
                 mailer: PINMailer | None = None,
                 numbers: NumberStore | None = None,
                 today: Callable[[], _dt.date] = _dt.date.today) -> None:
        self.profile = profile
        self.keys = keys if isinstance(keys, CardKeys) else CardKeyFactory(keys, profile)
        self.mailer = mailer
        self.numbers = numbers
        self._today = today
        self._planner = CardPlanner(profile, self.keys)

    def __repr__(self) -> str:
        return f"Personaliser({self.profile!r}, {self.keys!r})"

    def number(self, holders: Sequence[HolderRecord], origin: str = RUN_ORIGIN, *,
               preview: bool = False) -> dict[int, CardNumbers]:
        """Each holder's card numbers (by index) from the number store, allocated for
        ``origin`` (or, with ``preview``, what they would be: nothing is kept). Without a
        store: the numbers the holder records give, for those that give both."""
        if self.numbers is None:
            psn = self.profile.card.psn
            return {h.index: CardNumbers(h.card_id, h.pan, psn) for h in holders
                    if h.pan is not None and h.card_id is not None}
        if preview:
            return self.numbers.preview(self.profile, holders, origin)
        return self.numbers.allocate(self.profile, holders, origin)

    def plan(self, holder: HolderRecord, numbers: CardNumbers | None = None, *,
             pin: str | None = None) -> CardPlan:
        """The card's complete data (a fresh PIN unless ``pin`` is given, for tests); without
        ``numbers``, the holder's numbers as a lone holder's (:data:`.numbering.RUN_ORIGIN`)."""
        if numbers is None:
            numbers = self.number([holder]).get(holder.index)
        card = resolve_card(holder, self.profile, numbers, today=self._today(), pin=pin)
        return self._planner.plan(card)

    def _check_issued_card(self, plan: CardPlan, transports: Mapping[int, Transport],
                           clients: Mapping[int, GPClient]) -> None:
        """A fully SECURED card may only be this holder's (its PIN is then issued again)."""
        try:
            verify_card(transports, plan, self.keys, sessions=clients)  # opened by open_chip
        except VerificationMismatch as exc:
            raise AlreadyPersonalisedError(
                f"the card is already personalised, not with this holder's data ({exc}); "
                "nothing was written") from None

    def estimate(self, plan: CardPlan, *, fresh: bool = False) -> CardReport:
        """A dry run of ``plan``: everything computed, nothing sent, nothing written."""
        return CardReport(plan, estimate=count_apdus(plan, self.profile, fresh=fresh))

    def personalise(self, plan: CardPlan, transports: Mapping[int, Transport], *,
                    stripe: StripeWriter | None = None, fresh: bool = False) -> CardReport:
        """Personalise, encode, verify and mail one card (see the module docstring).

        ``fresh``: the card was just made blank by the caller (see :func:`.chip_run.open_chip`);
        its state is not read first.
        """
        report = CardReport(plan, estimate=count_apdus(plan, self.profile, fresh=fresh))
        if fresh and plan.card.already_issued:
            raise _issued_elsewhere(plan.card)
        clients = {chip: GPClient(transports[chip]) for chip in self.profile.chips}
        states = {chip: open_chip(client, chip, self.keys, fresh=fresh)
                  for chip, client in clients.items()}
        if all(state.secured for state in states.values()):
            self._check_issued_card(plan, transports, clients)
            states = {chip: open_chip(client, chip, self.keys) for chip, client in clients.items()}
        elif plan.card.already_issued:
            raise _issued_elsewhere(plan.card)
        for chip, client in clients.items():
            report.chips[chip] = personalise_chip(client, states[chip], plan.chip_apps(chip),
                                                  self.keys)
        if stripe is not None and plan.stripe is not None:
            stripe(plan.stripe)
            report.stripe_written = True
        verify_card(transports, plan, self.keys, sessions=clients)  # each ISD's channel is open
        report.verified = True
        if self.numbers is not None:
            self.numbers.mark_issued(plan.card.card_id, plan.pin_check)
        if self.mailer is not None:
            self.mailer.add(plan.card)
        return report


def _issued_elsewhere(card: CardData) -> AlreadyIssuedError:
    return AlreadyIssuedError(
        f"card {card.card_id} (PAN {card.masked_pan}) is already issued and this card is not "
        f"it; nothing was written (a new card for the holder: --replaces {card.card_id})")
