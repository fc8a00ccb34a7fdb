"""pytest plugin shipped with dualcard (entry point ``pytest11``).

Registers the test-tier markers and the options that point tests at a real
reader, so QA suites get the same vocabulary as ours.
"""

from __future__ import annotations

import pytest

_MARKERS = {
    "unit": "pure protocol and crypto tests (no I/O)",
    "sim": "in-process simulator tests",
    "vpcd": "needs pcscd + vsmartcard-vpcd (fails under CI=true when missing)",
    "hardware": "needs a real card in a real reader (--dualcard-reader)",
    "postgres": "needs a PostgreSQL server (DUALCARD_TEST_PG_URL)",
    "slow": "takes more than a few seconds",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dualcard")
    group.addoption("--dualcard-reader", action="store", default=None,
                    help="run card tests against this reader (pcsc:NAME-OR-INDEX or sim:IMAGE)")


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in _MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
