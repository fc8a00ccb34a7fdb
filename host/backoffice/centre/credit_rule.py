"""The dynamic credit line of a virtual account (F23), decided without I/O.

One explainable formula, recomputed on demand; every change carries the sentence that says
why. The line is:

* a base of 2,000.00 CNY;
* plus 0.10 CNY for each consumption point the holder holds (loyalty: points are history);
* plus half of what the holder spent and settled in the last 90 days;
* minus a quarter of the total for each top-up the bank refused in the last 90 days (money
  that should have repaid the line and did not come);
* never below what is in use now, never above 50,000.00 CNY.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.backoffice.centre.tiers import yuan as _yuan

__all__ = ["BASE_LINE", "MAX_LINE", "CreditInputs", "credit_line"]

BASE_LINE = 200_000
MAX_LINE = 5_000_000
FEN_PER_POINT = 10
SPENDING_SHARE = 2  # one half
FAILURE_CUT_PERCENT = 25


@dataclass(frozen=True, slots=True)
class CreditInputs:
    points: int
    spent_90d: int
    failed_topups_90d: int
    in_use: int


def credit_line(inputs: CreditInputs) -> tuple[int, str]:
    """The line in fen, and why."""
    from_points = max(inputs.points, 0) * FEN_PER_POINT
    from_spending = max(inputs.spent_90d, 0) // SPENDING_SHARE
    gross = BASE_LINE + from_points + from_spending
    cut = min(100, FAILURE_CUT_PERCENT * inputs.failed_topups_90d)
    line = gross * (100 - cut) // 100
    parts = [f"base {_yuan(BASE_LINE)}", f"+ {_yuan(from_points)} for {inputs.points} points",
             f"+ {_yuan(from_spending)} for {_yuan(inputs.spent_90d)} spent in 90 days"]
    if cut:
        parts.append(f"- {cut}% for {inputs.failed_topups_90d} refused top-up(s)")
    if line > MAX_LINE:
        line, parts = MAX_LINE, [*parts, f"capped at {_yuan(MAX_LINE)}"]
    if line < inputs.in_use:
        line, parts = inputs.in_use, [*parts, f"kept at the {_yuan(inputs.in_use)} in use"]
    return line, " ".join(parts)
