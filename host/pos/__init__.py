"""The POS host library: a merchant terminal over a dual-chip card (F7–F9, F18, F24, F26).

Start with :class:`Terminal`. It takes the card's two chips (any transports), the
merchant's identity, the terminal's purchase security module and a
:class:`BackOfficeLink` (:class:`host.backoffice.inprocess_link.InProcessBackOffice` runs
the alliance's back office in process; ``host.pos`` itself imports no back office). It
runs sales (chip 1 pays, chip 2 earns points by the merchant's agreement), points
spending, conversions and premiums, the stripe fallback, a journal on SQLite that records
every step before the holder sees the outcome, batch uploads that are safe to repeat,
reconciliation after a pulled card, and slips (printed and parsed back).
"""

from __future__ import annotations

from host._lazy import lazy_exports

__all__ = [
    "ARPCRejectedError",
    "ApplicationChooser",
    "BackOfficeLink",
    "EarnQuote",
    "EntryMode",
    "FallbackNotAllowedError",
    "Holder",
    "IdentityCheck",
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
    "PrepaidLink",
    "PrepaidPayment",
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

__getattr__, __dir__ = lazy_exports(__name__, {
    ".chip_payment": ("ApplicationChooser", "method_of"),
    ".errors": (
        "ARPCRejectedError", "FallbackNotAllowedError", "JournalError", "PointsProofError",
        "POSError", "POSUsageError", "StripeReadError", "TransactionInterruptedError",
    ),
    ".journal": ("Journal", "JournalEntry"),
    ".link": (
        "BackOfficeLink", "EarnQuote", "OnlineAnswer", "PaymentMethod", "PrepaidLink",
        "PrepaidPayment", "RedemptionReceipt", "StripeDecision", "UploadReceipt",
    ),
    ".merchant": ("MerchantIdentity",),
    ".money": ("format_cny", "parse_cny"),
    ".order_slip": ("Order", "OrderLine", "render_order_slip"),
    ".reconcile": ("ReconcileOutcome",),
    ".records": (
        "EntryMode", "Holder", "IdentityCheck", "PinCheck", "PointsMovement", "PointsResult",
        "SaleResult", "TxnKind", "TxnStatus",
    ),
    ".slip": ("Slip", "SlipPoints", "parse_slip", "render_slip"),
    ".stripe": ("StripeRead", "check_fallback", "read_stripe"),
    ".terminal": ("Terminal",),
})
