"""The sample card's issuer keys as the key files a deployment reads.

``dualcard pos`` (a terminal configuration) and ``dualcard host serve`` name three files:
the chip-1 issuer keys (``issuer.json``), the points issuer's keys (``points-keys.json``)
and the issuer's per-card keys for the back office's verifier (``card-keys.json``). These
are the sample card's test keys, for tests and the guides; production keys come from the
key ceremony (docs/operators.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from apdu_specs.commands.purse_data import Purse
from apdu_specs.payment.cryptogram import version_for
from host.points.keyfile import issuer_keys_to_dict
from host.records.assets import PURSE_ASSETS

from .personalise import SAMPLE, SampleCard

__all__ = ["SampleKeyFiles", "write_sample_key_files"]


@dataclass(frozen=True)
class SampleKeyFiles:
    payment_keys: Path  #: issuer.json
    points_keys: Path  #: points-keys.json
    card_keys: Path  #: card-keys.json


def write_sample_key_files(directory: Path, sample: SampleCard = SAMPLE) -> SampleKeyFiles:
    """Write the three key files of ``sample`` into ``directory``."""
    emv = sample.payment_keys.emv
    files = SampleKeyFiles(directory / "issuer.json", directory / "points-keys.json",
                           directory / "card-keys.json")
    files.payment_keys.write_text(json.dumps({
        "imk_ac": emv.ac.hex(), "imk_smi": emv.smi.hex(), "imk_smc": emv.smc.hex(),
        "cvk": sample.payment_keys.cvk.hex(), "pvk": sample.payment_keys.pvk.hex()}))
    files.points_keys.write_text(json.dumps(issuer_keys_to_dict(sample.purse_keys)))
    card_keys = {
        "dtk": {PURSE_ASSETS[p].value: sample.purse_keys.card_keys(sample.identity, p).dtk.hex()
                for p in Purse},
        "ac_mk": {p.product.value: version_for(p.cvn).icc_master_key(emv.ac, p.pan, p.psn).hex()
                  for p in sample.payment_profiles}}
    files.card_keys.write_text(json.dumps({
        "format": "dualcard-issuer-keys/1", "algorithm": "aes",
        "cards": {sample.identity: card_keys}}))
    return files
