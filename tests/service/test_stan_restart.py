"""A terminal restarted within its replay window: with its STAN counter kept
(host.pos.stan) the service takes its messages; with a counter from the clock it sends a
STAN the service still holds and is refused (94)."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.pos.network_link import ServiceRefusedError, StanCounter
from host.pos.stan import STAN_FILE, PersistentStanCounter

from .conftest import Host


def test_over_the_network_a_restart_reuses_no_stan_the_service_holds(
        tmp_path: Path, sqlite_host: Host) -> None:
    path = tmp_path / STAN_FILE
    for _ in range(2):  # the terminal, then the same terminal restarted in the same second
        counter = PersistentStanCounter(path, start=4242)
        with sqlite_host.link(stan=counter) as link:
            link.echo()
            link.echo()
        counter.close()
    with sqlite_host.link(stan=StanCounter(4242)) as link, \
            pytest.raises(ServiceRefusedError, match="94"):
        link.echo()  # a counter from the clock sends STAN 4242 again: refused
