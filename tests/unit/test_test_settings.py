"""The suite's own settings: the Hypothesis profile a run gets (tests/conftest.py) and the
per-test timeout (pyproject.toml)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.unit


def test_the_profile_tolerates_a_loaded_machine() -> None:
    current = settings.default
    assert current.deadline is None
    assert HealthCheck.too_slow in current.suppress_health_check


def test_ci_gets_the_reproducible_profile() -> None:
    ci = os.environ.get("CI", "").lower() == "true"
    wanted = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if ci else "dev")
    assert settings.default == settings.get_profile(wanted)
    assert settings.get_profile("ci").derandomize and not settings.get_profile("dev").derandomize


def test_every_test_has_a_timeout(pytestconfig: pytest.Config) -> None:
    assert float(pytestconfig.getini("timeout")) >= 60
    assert pytestconfig.getini("timeout_method") == "thread"
