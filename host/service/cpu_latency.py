"""A cap on how long the machine's CPUs take to wake, held while the service serves.

An idle CPU rests in an idle state, and the deeper the state the longer it takes to leave.
On a virtual machine its resting is a halt: the hypervisor gives the physical CPU to
something else, and the work that wakes it runs on caches the other work filled. A
service at a steady 2,000 requests a second rests between groups of requests a millisecond
or two at a time, so it pays this on nearly every group: here the same handling cost
~40 % more CPU when each group followed a 3 ms sleep than when the groups came back to
back (D67).

Linux lets a process say how long a wake-up it tolerates: the PM QoS interface
(``Documentation/power/pm_qos_interface.rst``). A process writes the latency in
microseconds, a 32-bit integer, to ``/dev/cpu_dma_latency`` and keeps the file open; the
idle governor then uses no state slower to leave than that (at 0 an idle CPU polls instead
of halting); the kernel drops the request when the file is closed, however the process
ends, so nothing outlives it. tuned's ``latency-performance`` profile holds one the same
way. Reading the file gives the machine's current target: the lowest latency any process
asks for.

The cost is the machine's: every CPU with nothing to do spins instead of resting (power,
and on a shared host cycles another guest could have had). So it is the operator's choice
(``dualcard host serve --cpu-latency-us``, docs/host.md), never a default.
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path
from types import TracebackType

from .errors import ServiceConfigurationError

__all__ = ["DEVICE", "MAX_LATENCY_US", "CPULatencyRequest", "cpu_latency_target"]

#: where Linux takes requests on the CPUs' wake-up latency
DEVICE = Path("/dev/cpu_dma_latency")
#: the largest latency a request can name (the kernel's "no constraint", 2,000 s)
MAX_LATENCY_US = 2_000_000_000
#: the kernel's value: a native signed 32-bit integer of microseconds
_VALUE = struct.Struct("=i")


class CPULatencyRequest:
    """While entered, the machine's CPUs wake within ``microseconds`` (a PM QoS request
    held on ``device``); on exit the request ends. Entering raises
    :class:`ServiceConfigurationError`, naming the device, where the kernel offers no
    such requests or the process may not make one (it takes root, or write access to the
    device)."""

    def __init__(self, microseconds: int, *, device: Path = DEVICE) -> None:
        if not 0 <= microseconds <= MAX_LATENCY_US:
            raise ServiceConfigurationError(
                f"a CPU wake-up latency is 0 to {MAX_LATENCY_US} microseconds, "
                f"got {microseconds}")
        self.microseconds = microseconds
        self.device = device
        self._fd: int | None = None

    def __enter__(self) -> CPULatencyRequest:
        if self._fd is not None:
            raise ServiceConfigurationError("this CPU latency request is held already")
        try:
            fd = os.open(self.device, os.O_WRONLY)
        except FileNotFoundError:
            raise ServiceConfigurationError(
                f"{self.device} does not exist: this kernel takes no CPU latency requests "
                "(PM QoS)") from None
        except PermissionError:
            raise ServiceConfigurationError(
                f"{self.device}: permission denied (a CPU latency request takes root, or "
                "write access to it)") from None
        try:
            if not stat.S_ISCHR(os.fstat(fd).st_mode):
                raise ServiceConfigurationError(
                    f"{self.device} is not the kernel's PM QoS device (not a character "
                    "device)")
            os.write(fd, _VALUE.pack(self.microseconds))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # the kernel drops the request with the file

    @property
    def held(self) -> bool:
        return self._fd is not None


def cpu_latency_target(device: Path = DEVICE) -> int:
    """The machine's current CPU wake-up latency target in microseconds: the lowest any
    process holds (:data:`MAX_LATENCY_US` when none does). Reading it takes root."""
    with open(device, "rb", buffering=0) as handle:
        return int(_VALUE.unpack(handle.read(_VALUE.size))[0])
