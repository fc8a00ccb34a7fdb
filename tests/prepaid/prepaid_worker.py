"""A process that issues purchases ``buy-0`` … ``buy-<n-1>``, pays from each, opens,
approves and pays a claim, every request sent twice: the kill test runs it, kills it with SIGKILL at a random
moment, and runs it again to the end."""

from __future__ import annotations

import sys

from host.backoffice.prepaid import PrepaidOffice, Trigger
from tests.prepaid.prepaid_helpers import HOLDERS, T0


def main(url: str, count: int) -> None:
    pp = PrepaidOffice(url)
    for n in range(count):
        holder = HOLDERS[n % len(HOLDERS)]
        for _ in range(2):
            pp.issue(f"buy-{n}", "GYM-FIT", holder, 600_000 + n, at=T0)
            pp.pay(f"pay-{n}", f"{holder}/GYM-FIT", 1_000, at=T0)
        print(n, flush=True)
    for _ in range(2):
        pp.open_claim("CLM", "GYM", Trigger.CLOSURE, trigger_at=T0, at=T0)
        pp.review_claim("CLM", approve=True, note="", at=T0)
        pp.pay_claim("CLM", at=T0)
    pp.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
