"""The service's counters in the Prometheus text format (version 0.0.4), kept in process.

Two families, labelled by door, route (the route's template, never a card id), method and
status: ``dualcard_requests_total`` counts answers, ``dualcard_request_seconds`` is the
histogram of the time from a request read to its answer written. ``/metrics`` serves them
(:mod:`.http_app`); the ISO 8583 door reports its messages under the route of their MTI.
A few dozen lines of our own, not a client library: nothing else here needs one.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import defaultdict

__all__ = ["BUCKETS", "CONTENT_TYPE", "Metrics"]

#: upper bounds of the latency histogram, in seconds
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[str, str, str, str]  # door, route, method, status


class Metrics:
    """Request counts and latencies, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Labels, int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, door: str, route: str, method: str, status: int | str,
                seconds: float) -> None:
        key = (door, route)
        with self._lock:
            self._counts[(door, route, method, str(status))] += 1
            counts = self._buckets.setdefault(key, [0] * (len(BUCKETS) + 1))
            counts[bisect_left(BUCKETS, seconds)] += 1  # the first bound >= seconds
            self._sums[key] += seconds

    def render(self) -> str:
        """The exposition text."""
        with self._lock:
            counts = sorted(self._counts.items())
            histograms = sorted((k, list(v), self._sums[k]) for k, v in self._buckets.items())
        lines = ["# HELP dualcard_requests_total Requests answered, by door, route, method "
                 "and status.", "# TYPE dualcard_requests_total counter"]
        for (door, route, method, status), n in counts:
            lines.append(f'dualcard_requests_total{{door="{door}",route="{_escape(route)}",'
                         f'method="{method}",status="{status}"}} {n}')
        lines += ["# HELP dualcard_request_seconds Time to answer a request.",
                  "# TYPE dualcard_request_seconds histogram"]
        for (door, route), buckets, total in histograms:
            labels = f'door="{door}",route="{_escape(route)}"'
            running = 0
            for bound, n in zip((*BUCKETS, "+Inf"), buckets):
                running += n
                lines.append(f'dualcard_request_seconds_bucket{{{labels},le="{bound}"}} '
                             f'{running}')
            lines.append(f"dualcard_request_seconds_sum{{{labels}}} {total:.6f}")
            lines.append(f"dualcard_request_seconds_count{{{labels}}} {running}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
