"""A CPU wake-up latency request (:mod:`host.service.cpu_latency`) on the kernel's own PM QoS
device: held while entered, the lowest of those held wins, gone on exit; asked of
something that is not the device, refused in one line with nothing written. Reading and
writing the device takes root, as CI runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.service.cpu_latency import MAX_LATENCY_US, CPULatencyRequest, cpu_latency_target
from host.service.errors import ServiceConfigurationError


def test_a_request_holds_the_machines_target_until_it_ends() -> None:
    before = cpu_latency_target()
    low = 3 if before > 3 else 0
    with CPULatencyRequest(low + 40) as outer:
        assert outer.held and cpu_latency_target() == min(before, low + 40)
        with CPULatencyRequest(low):
            assert cpu_latency_target() == low  # the lowest held wins
        assert cpu_latency_target() == min(before, low + 40)
    assert not outer.held
    assert cpu_latency_target() == before


def test_a_request_is_held_once() -> None:
    request = CPULatencyRequest(100)
    with request, pytest.raises(ServiceConfigurationError, match="held already"):
        request.__enter__()
    assert not request.held


@pytest.mark.parametrize("microseconds", [-1, MAX_LATENCY_US + 1])
def test_a_latency_out_of_the_kernels_range_is_refused(microseconds: int) -> None:
    with pytest.raises(ServiceConfigurationError, match="0 to 2000000000 microseconds"):
        CPULatencyRequest(microseconds)


def test_a_missing_device_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "cpu_dma_latency"
    with pytest.raises(ServiceConfigurationError, match="does not exist"):
        CPULatencyRequest(0, device=missing).__enter__()


def test_a_file_that_is_not_the_device_is_refused_unwritten(tmp_path: Path) -> None:
    plain = tmp_path / "cpu_dma_latency"
    plain.write_bytes(b"")
    request = CPULatencyRequest(0, device=plain)
    with pytest.raises(ServiceConfigurationError, match="not a character device"):
        request.__enter__()
    assert plain.read_bytes() == b"" and not request.held
