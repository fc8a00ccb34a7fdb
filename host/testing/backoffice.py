"""A back office for tests: SQLite in a temporary directory, knowing the sample card's keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from apdu_specs.payment.cryptogram import version_for
from host.backoffice import BackOffice, CardKeys, SoftwareCardVerifier, StaticKeyStore
from host.backoffice.assets import Asset
from host.points import Purse

from .personalise import SAMPLE, SampleCard

__all__ = ["EPOCH", "sample_key_store", "temporary_backoffice"]

#: when the test back office was set up (a fixed instant: tests never depend on the clock)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

_PURSE_ASSETS = {Purse.CONSUMPTION: Asset.CONSUMPTION_POINTS, Purse.BANK: Asset.BANK_POINTS,
                 Purse.CREDIT: Asset.CREDIT_POINTS}


def sample_key_store(sample: SampleCard = SAMPLE) -> StaticKeyStore:
    """The issuer's keys of the sample card: purse TAC keys, ICC application-cryptogram keys."""
    dtk = {asset.value: sample.purse_keys.card_keys(sample.identity, purse).dtk
           for purse, asset in _PURSE_ASSETS.items()}
    ac_mk = {p.product.value: version_for(p.cvn).icc_master_key(sample.payment_keys.emv.ac,
                                                                 p.pan, p.psn)
             for p in sample.payment_profiles}
    return StaticKeyStore({sample.identity: CardKeys(dtk, ac_mk)}, sample.purse_keys.algorithm)


def temporary_backoffice(directory: Path, sample: SampleCard = SAMPLE) -> BackOffice:
    """An initialised back office in ``directory`` that verifies the sample card's records."""
    office = BackOffice(f"sqlite:///{directory / 'ledger.sqlite3'}",
                        verifier=SoftwareCardVerifier(sample_key_store(sample)))
    office.init(at=EPOCH)
    return office
