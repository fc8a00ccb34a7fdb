"""Card personalisation for operators: profiles, holder data, per-card keys, the run, the batch.

Safe layer (style lesson 8) over :mod:`host.gp`: a profile (:mod:`.profile`) and holder
records (:mod:`.holders`) make a plan per card (:mod:`.plan`), which
:class:`Personaliser` writes through each chip's security domain in a tear-safe order
(:mod:`.chip_run`), reads back (:mod:`.verify`) and reports; :func:`run_batch` does it for
many cards with an audit journal (:mod:`.audit`) and a PIN mailer (:mod:`.pin_mailer`).
"""

from .audit import AuditJournal, AuditRecord, BatchIdentity
from .batch import BatchSummary, run_batch
from .card_data import CardData, CardNumbers, generate_pin, mask_pan, resolve_card
from .card_keys import CardKeyFactory
from .card_run import CardReport, Personaliser
from .errors import (
    AlreadyIssuedError,
    AlreadyPersonalisedError,
    AuditJournalError,
    AuthenticationError,
    CardStateError,
    HolderError,
    NumberInUseError,
    NumberStoreError,
    PersoError,
    PinMailerError,
    ProfileError,
    VerificationMismatch,
)
from .estimate import APDUCount, count_apdus
from .holders import HolderRecord, holder_from_json, read_holders, read_holders_text
from .numbering import RUN_ORIGIN, NumberStore, batch_origin, replacement_origin
from .pin_mailer import PINMailer
from .plan import AppPlan, CardPlan, plan_card
from .profile import Profile, load_profile, parse_profile
from .targets import CardSlot, ReaderTarget, SimImageTarget

__all__ = [
    "RUN_ORIGIN",
    "APDUCount",
    "AlreadyIssuedError",
    "AlreadyPersonalisedError",
    "AppPlan",
    "AuditJournal",
    "AuditJournalError",
    "AuditRecord",
    "AuthenticationError",
    "BatchIdentity",
    "BatchSummary",
    "CardData",
    "CardKeyFactory",
    "CardNumbers",
    "CardPlan",
    "CardReport",
    "CardSlot",
    "CardStateError",
    "HolderError",
    "HolderRecord",
    "NumberInUseError",
    "NumberStore",
    "NumberStoreError",
    "PINMailer",
    "PersoError",
    "Personaliser",
    "PinMailerError",
    "Profile",
    "ProfileError",
    "ReaderTarget",
    "SimImageTarget",
    "VerificationMismatch",
    "batch_origin",
    "count_apdus",
    "generate_pin",
    "holder_from_json",
    "load_profile",
    "mask_pan",
    "parse_profile",
    "plan_card",
    "read_holders",
    "read_holders_text",
    "replacement_origin",
    "resolve_card",
    "run_batch",
]
