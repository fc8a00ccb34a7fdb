"""How many command APDUs a card's personalisation sends (for dry runs and reports).

Counted from the plan exactly as the run sends them on a blank card (a test checks the
count against a real run): STORE DATA blocks as the GP builder cuts them, GET STATUS
in one page (a handful of applications fits).
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.caches import pure_cache
from apdu_specs.payment import dgi as payment_dgi
from host.gp import apdus

from .plan import AppPlan, CardPlan
from .profile import AppKind, Profile

__all__ = ["APDUCount", "count_apdus"]

#: SELECT ISD, INITIALIZE UPDATE (factory keys), EXTERNAL AUTHENTICATE, GET STATUS (ISD),
#: GET STATUS (applications)
_OPEN = 5
#: a card the caller has just made blank: INITIALIZE UPDATE, EXTERNAL AUTHENTICATE
_OPEN_FRESH = 2
#: PUT KEY, SET STATUS (card)
_CLOSE = 2
#: the read-back's 2 x GET STATUS in the run's channel, then INITIALIZE UPDATE with the
#: issuer's key version (which also ends the session)
_VERIFY_ISD = 3
_NOT_RECORDS = (payment_dgi.RISK_PARAMETERS, payment_dgi.CRYPTO_PARAMETERS)


@dataclass(frozen=True)
class APDUCount:
    personalise: int
    verify: int

    @property
    def total(self) -> int:
        return self.personalise + self.verify


def store_data_blocks(app: AppPlan, cipher_block: int,
                      data_block: int = apdus.MAX_STORE_DATA_BLOCK) -> int:
    """The number of STORE DATA commands ``app`` needs, as :func:`host.gp.apdus.store_data`
    cuts them: a run of plain or of encrypted DGIs fills blocks of ``data_block`` bytes, a
    change of kind starts a new block, an encrypted value is padded to ``cipher_block``."""
    blocks = 0
    run_sensitive: bool | None = None
    run_length = 0
    for dgi in app.dgis:  # every card's count walks its DGIs: kept to plain int arithmetic
        size = len(dgi.value)
        sensitive = dgi.sensitive
        if sensitive:
            size = (size // cipher_block + 1) * cipher_block  # method 2 always pads
        if sensitive != run_sensitive:
            blocks += -(-run_length // data_block)
            run_sensitive, run_length = sensitive, 0
        # framed on the wire: identifier, length (1 byte, or FF and 2), value
        run_length += size + (3 if size < 0xFF else 5)
    return blocks + -(-run_length // data_block)


def _verify_app(app: AppPlan) -> int:
    if app.spec.kind is AppKind.PURSE:
        return 1 + 3  # SELECT, GET BALANCE of each purse
    return 1 + sum(_is_record(d.dgi) for d in app.dgis)


@pure_cache(maxsize=1024)
def _is_record(dgi: int) -> bool:
    """Whether the read-back reads DGI ``dgi`` as a record (a pure function of the number,
    asked for every DGI of every card)."""
    return dgi not in _NOT_RECORDS and payment_dgi.record_of_dgi(dgi) is not None


def count_apdus(plan: CardPlan, profile: Profile, *, fresh: bool = False) -> APDUCount:
    """Commands a blank card receives, and those of the read-back (``fresh``: a card the
    caller has just made blank, whose state the run does not read first)."""
    block = profile.suite.block_size
    personalise = verify = 0
    for chip in profile.chips:
        apps = plan.chip_apps(chip)
        personalise += (_OPEN_FRESH if fresh else _OPEN) + _CLOSE
        # INSTALL, INSTALL [for personalization], the blocks, SET STATUS unless self-marked
        for app in apps:
            personalise += 2 + store_data_blocks(app, block) + (not app.spec.marks_personalized)
        verify += _VERIFY_ISD + sum(_verify_app(app) for app in apps)
    return APDUCount(personalise, verify)
