"""Card risk management: which cryptogram the card answers (modelled on EMV Book 3 §10.8).

First GENERATE AC: an AAC request is always honoured; a blocked application only
goes online (so the issuer can unblock it) or declines; otherwise the card answers an
ARQC when any reason to go online holds and the terminal's request allows it, else
the TC the terminal asked for.

Second GENERATE AC: after an issuer-authenticated online answer the issuer's decision
stands (TC only when the terminal asks TC); an online answer whose ARPC failed, or
that came without any ARPC, is declined; when the terminal could not go online the
card approves offline only within the upper consecutive offline limit and the
offline amount limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.payment.ac_type import ACType

__all__ = ["OfflineExposure", "OnlineReasons", "first_decision", "second_decision"]


@dataclass(frozen=True)
class OfflineExposure:
    """Whether one more offline approval stays within the card's offline limits."""

    amount: int | None
    currency_matches: bool
    offline_amount: int
    offline_limit: int
    offline_count: int
    upper_limit: int
    credit_limit: int | None = None

    @property
    def within_amount_limits(self) -> bool:
        if self.amount is None or not self.currency_matches:
            return False
        if self.credit_limit is not None and self.amount > self.credit_limit:
            return False
        return self.offline_amount + self.amount <= self.offline_limit

    @property
    def within_upper_count(self) -> bool:
        return self.offline_count <= self.upper_limit


@dataclass(frozen=True)
class OnlineReasons:
    new_card: bool = False
    velocity_exceeded: bool = False
    last_online_incomplete: bool = False
    issuer_auth_failed_last: bool = False
    issuer_auth_not_performed_last: bool = False
    go_online_next: bool = False
    pin_try_limit_exceeded: bool = False
    over_amount_limits: bool = False

    def any(self) -> bool:
        return any(vars(self).values())


def first_decision(requested: ACType, *, blocked: bool, reasons: OnlineReasons) -> ACType:
    if requested is ACType.AAC:
        return ACType.AAC
    if blocked:
        return ACType.ARQC if requested is ACType.ARQC else ACType.AAC
    if requested is ACType.ARQC or reasons.any():
        return ACType.ARQC
    return ACType.TC


def second_decision(requested: ACType, *, blocked: bool, unable_to_go_online: bool,
                    issuer_authenticated: bool, issuer_approved: bool,
                    exposure: OfflineExposure) -> ACType:
    if requested is not ACType.TC or blocked:
        return ACType.AAC
    if unable_to_go_online:
        ok = exposure.within_amount_limits and exposure.within_upper_count
        return ACType.TC if ok else ACType.AAC
    return ACType.TC if issuer_authenticated and issuer_approved else ACType.AAC
