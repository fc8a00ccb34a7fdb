"""Manufacture: put an issuer security domain on a chip, as a card leaves the factory.

The chip ends up in OP_READY with the ISD installed, selectable and default selected,
holding one key set (the GP test keys under KVN FF unless told otherwise) and the
card's identity (CPLC, KDD, CIN; IIN when given).

:func:`blank_chip` makes the same chip faster for bulk manufacture: the factory writes
the same memory on every chip of a suite but for the identity, so the memory
:func:`install_isd` writes is built once per suite, key set and profile (a *factory
image*) and each new chip gets a copy with its own identity written into it.
"""

from __future__ import annotations

from collections.abc import Sequence

from apdu_specs.caches import pure_cache
from apdu_specs.crypto.keyset import StaticKeys
from cardlib.chip import Chip
from cardlib.content import CardLifeCycle
from cardlib.memory import PersistentMemory, Value

from .applet import IssuerSecurityDomain
from .constants import (
    INITIAL_KVN,
    ISD_AID,
    ISD_LOAD_FILE_AID,
    ISD_MODULE_AID,
    ISD_PRIVILEGES,
)
from .identity import CardIdentity
from .keystore import KeySet, test_keys
from .profile import ISDProfile, Suite

__all__ = ["blank_chip", "factory_keys", "install_isd"]


def factory_keys(suite: Suite | str = Suite.AES) -> StaticKeys:
    """The GP test key 40..4F as ENC, MAC and DEK for a suite (16 bytes for each).

    The key set is public and the same for every blank card of a suite: one object.
    """
    return test_keys(Suite(suite).algorithm)


def install_isd(chip: Chip, *, suite: Suite | str = Suite.AES, keys: StaticKeys | None = None,
                kvn: int = INITIAL_KVN, extra_keysets: Sequence[KeySet] = (),
                card_identity: str = "blank", iin: bytes | None = None, cin: bytes | None = None,
                identity: CardIdentity | None = None, profile: ISDProfile | None = None,
                aid: bytes = ISD_AID, sequence_counter: int = 0) -> IssuerSecurityDomain:
    """Install and configure the ISD on ``chip``; the card state becomes OP_READY.

    ``identity`` overrides the values derived from ``card_identity`` (tests inject a
    fixed KDD and AID to replay published vectors).
    """
    profile = profile or ISDProfile.for_suite(suite)
    keys = keys or factory_keys(profile.suite)
    identity = identity or CardIdentity.derive(card_identity, chip.role, iin=iin, cin=cin)
    content = chip.content
    content.install(ISD_LOAD_FILE_AID, ISD_MODULE_AID, aid, privileges=ISD_PRIVILEGES)
    content.set_card_state(CardLifeCycle.OP_READY)
    isd = content.instance(aid)
    assert isinstance(isd, IssuerSecurityDomain)
    isd.configure(profile=profile, keysets=[KeySet(kvn, keys), *extra_keysets],
                  identity=identity, sequence_counter=sequence_counter)
    return isd


#: the identity a factory image is built with (overwritten on every chip made from it)
_IMAGE_IDENTITY = "factory image"


@pure_cache(maxsize=16)
def _factory_image(profile: ISDProfile) -> tuple[tuple[str, Value], ...]:
    """What :func:`install_isd` writes into an empty chip's memory with the factory keys
    (the published test key), in write order: a pure function of the (frozen) profile and
    public keys. The identity it holds is a placeholder that :func:`blank_chip` overwrites."""
    return _image(profile, factory_keys(profile.suite))


def _image(profile: ISDProfile, keys: StaticKeys) -> tuple[tuple[str, Value], ...]:
    chip = Chip("chip1")
    install_isd(chip, keys=keys, profile=profile, card_identity=_IMAGE_IDENTITY)
    return tuple(chip.snapshot().items())


def blank_chip(role: str, *, suite: Suite | str = Suite.AES, keys: StaticKeys | None = None,
               card_identity: str = "blank", iin: bytes | None = None,
               profile: ISDProfile | None = None) -> Chip:
    """A new chip as :func:`install_isd` leaves it (same memory, key for key and in the
    same order), made from a copy of the factory image with only the identity written.
    Only the image of the public factory keys is kept; other keys are the caller's."""
    profile = profile or ISDProfile.for_suite(suite)
    if keys is None or keys == factory_keys(profile.suite):
        image = _factory_image(profile)
    else:
        image = _image(profile, keys)
    chip = Chip(role, PersistentMemory(dict(image)))
    isd = chip.content.instance(ISD_AID)
    assert isinstance(isd, IssuerSecurityDomain)
    isd.set_identity(CardIdentity.derive(card_identity, role, iin=iin))
    return chip
