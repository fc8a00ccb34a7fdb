"""Prepaid value split into insured sub-cards (F13–F16), on the alliance ledger.

A holder's purchase under a merchant's program becomes sub-cards under the per-card cap,
linked under one network account (:mod:`split`, :mod:`issue`); payments draw on them as one
card (:mod:`drawing`, :mod:`payments`); each card is insured on its own
(:mod:`premiums`, :mod:`policies`); every movement and live balance is recorded
(:mod:`records`, :mod:`balances`) and reconciled daily against custody (:mod:`reconcile`);
a claim pays each card from its live balance (:mod:`claims`). The modules without I/O
(``programs``, ``split``, ``drawing``, ``premiums``, ``postings``) decide; the others read
and write. Start with :class:`PrepaidOffice`.
"""

from __future__ import annotations

from host._lazy import lazy_exports

__all__ = ["HolderKind", "IssueRequest", "PayRequest", "PrepaidOffice", "Program", "ProgramKind",
           "RateRow", "Trigger"]

__getattr__, __dir__ = lazy_exports(__name__, {
    ".claims": ("Trigger",),
    ".issue": ("IssueRequest",),
    ".office": ("PrepaidOffice",),
    ".payments": ("PayRequest",),
    ".programs": ("HolderKind", "Program", "ProgramKind"),
    ".rates": ("RateRow",),
})
