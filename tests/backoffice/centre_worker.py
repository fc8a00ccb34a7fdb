"""A separate process working the settlement centre, for the kill and concurrency tests:

    python -m tests.backoffice.centre_worker URL WORKER COUNT

Worker ``WORKER`` places COUNT orders (``w<WORKER>-<i>``) alternately for each holder,
releases each (request ``r``), moves money between the holder's accounts every third order,
then asks the bank again for any top-up left waiting. Every id is fixed, so a worker killed
and run again repeats the same requests. Prints ``done`` at the end.
"""

from __future__ import annotations

import contextlib
import sys
from datetime import timedelta

from host.backoffice.centre import Condition, OrderRequest, ReleaseBy, SettlementCentre, Tier
from host.backoffice.centre.errors import CentreRefusedError
from tests.backoffice.centre_helpers import ADDRESS, HOLDERS, T0


def order_amount(worker: int, i: int) -> int:
    return 1_000 + 37 * i + worker


def main(argv: list[str]) -> int:
    url, worker, count = argv[0], int(argv[1]), int(argv[2])
    centre = SettlementCentre(url)
    for i in range(count):
        holder = HOLDERS[(worker + i) % len(HOLDERS)]
        order_id = f"w{worker}-{i}"
        centre.place_order(OrderRequest(order_id, holder, "M1", order_amount(worker, i),
                                        Condition.ACCEPTANCE, ADDRESS, T0 + timedelta(days=30)),
                           at=T0)
        centre.release(order_id, "r", by=ReleaseBy.HOLDER, at=T0)
        if i % 3 == 0:
            # the settlement account may be short just now: a refusal moves nothing
            with contextlib.suppress(CentreRefusedError):
                centre.transfer(holder, f"t-{order_id}", Tier.SETTLEMENT, Tier.VIRTUAL, 500,
                                at=T0)
    centre.retry_topups(at=T0)
    centre.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
