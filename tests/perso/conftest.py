from __future__ import annotations

from pathlib import Path

import pytest

from host.keystore import KeyFile
from host.perso import HolderRecord, Personaliser, Profile, load_profile, read_holders
from tests.backoffice.conftest import db_url, pg_server_url, pg_url  # noqa: F401

from .perso_helpers import HOLDERS, PROFILE, personaliser, sample_keys


@pytest.fixture(scope="session")
def profile() -> Profile:
    return load_profile(PROFILE)


@pytest.fixture(scope="session")
def keys() -> KeyFile:
    return sample_keys()


@pytest.fixture(scope="session")
def holders() -> list[HolderRecord]:
    return read_holders(HOLDERS)


@pytest.fixture
def perso(tmp_path: Path, keys: KeyFile) -> Personaliser:
    return personaliser(tmp_path, keys)
