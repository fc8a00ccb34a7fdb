"""The POS host library: a merchant terminal over a dual-chip card (F7–F9, F18, F24, F26).

Start with :class:`Terminal`. It takes the card's two chips (any transports), the
merchant's identity, the terminal's purchase security module and a
:class:`BackOfficeLink` (:class:`InProcessBackOffice` runs the alliance's back office in
process). It runs sales (chip 1 pays, chip 2 earns points by the merchant's agreement),
points spending, conversions and premiums, the stripe fallback, a journal on SQLite
that records every step before the holder sees the outcome, batch uploads that are safe
to repeat, reconciliation after a pulled card, and slips (printed and parsed back).
"""

from .chip_payment import ApplicationChooser, method_of
from .errors import (
    ARPCRejectedError,
    FallbackNotAllowedError,
    JournalError,
    PointsProofError,
    POSError,
    POSUsageError,
    StripeReadError,
    TransactionInterruptedError,
)
from .inprocess import InProcessBackOffice
from .journal import Journal, JournalEntry
from .link import (
    BackOfficeLink,
    EarnQuote,
    OnlineAnswer,
    PaymentMethod,
    RedemptionReceipt,
    StripeDecision,
    UploadReceipt,
)
from .merchant import MerchantIdentity
from .money import format_cny, parse_cny
from .order_slip import Order, OrderLine, render_order_slip
from .reconcile import ReconcileOutcome
from .records import (
    EntryMode,
    Holder,
    IdentityCheck,
    PinCheck,
    PointsMovement,
    PointsResult,
    SaleResult,
    TxnKind,
    TxnStatus,
)
from .slip import Slip, SlipPoints, parse_slip, render_slip
from .stripe import StripeRead, check_fallback, read_stripe
from .terminal import Terminal

__all__ = [
    "ARPCRejectedError",
    "ApplicationChooser",
    "BackOfficeLink",
    "EarnQuote",
    "EntryMode",
    "FallbackNotAllowedError",
    "Holder",
    "IdentityCheck",
    "InProcessBackOffice",
    "Journal",
    "JournalEntry",
    "JournalError",
    "MerchantIdentity",
    "OnlineAnswer",
    "Order",
    "OrderLine",
    "POSError",
    "POSUsageError",
    "PaymentMethod",
    "PinCheck",
    "PointsMovement",
    "PointsProofError",
    "PointsResult",
    "ReconcileOutcome",
    "RedemptionReceipt",
    "SaleResult",
    "Slip",
    "SlipPoints",
    "StripeDecision",
    "StripeRead",
    "StripeReadError",
    "Terminal",
    "TransactionInterruptedError",
    "TxnKind",
    "TxnStatus",
    "UploadReceipt",
    "check_fallback",
    "format_cny",
    "method_of",
    "parse_cny",
    "parse_slip",
    "read_stripe",
    "render_order_slip",
    "render_slip",
]
