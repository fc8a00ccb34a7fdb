"""pytest plugin shipped with dualcard (entry point ``pytest11``).

Registers the test-tier markers, the option that points tests at a real reader, the
card fixtures of :mod:`host.testing.fixtures`, and the check that fails a test whose
simulated card recorded an internal error. Nothing here loads the simulator until a
fixture that needs it is used.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from host.testing.fixtures import (  # noqa: F401  (fixtures are registered by import)
    WATCHED_CARDS,
    backoffice,
    card_faults,
    card_link,
    chip1,
    chip2,
    dualcard_template,
    fail_on_internal_errors,
    sample_card_data,
    sim_card,
    vpcd_card,
)

_MARKERS = {
    "unit": "pure protocol and crypto tests (no I/O)",
    "sim": "in-process simulator tests",
    "vpcd": "needs pcscd + vsmartcard-vpcd (fails under CI=true when missing)",
    "hardware": "needs a real card in a real reader (--dualcard-reader)",
    "postgres": "needs a PostgreSQL server (DUALCARD_TEST_PG_URL)",
    "slow": "takes more than a few seconds",
    "allow_internal_errors": "the test provokes simulator internal errors (6F00) on purpose",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dualcard")
    group.addoption("--dualcard-reader", action="store", default=None,
                    help="run card tests against this reader (pcsc:NAME-OR-INDEX or sim:IMAGE)")


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in _MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Fail a passing test whose simulated cards turned an exception into 6F00."""
    result = yield
    errors = [error for card in item.stash.get(WATCHED_CARDS, [])
              for runtime in card.runtimes().values() for error in runtime.internal_errors]
    if errors and item.get_closest_marker("allow_internal_errors") is None:
        pytest.fail("the simulator recorded internal errors (card-side exceptions answered "
                    "as 6F00):\n" + "\n".join(errors), pytrace=False)
    return result
