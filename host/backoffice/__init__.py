"""The alliance back office: a double-entry, append-only ledger (SQLite by default, PostgreSQL
by URL) and the business on top of it: members and agreements, clearing of terminal batches
with verified card MACs, net settlement, conversion of points, credit granting, notices.

Start with :class:`BackOffice`; the ledger alone is :class:`Ledger` over a :class:`Database`.
"""

from __future__ import annotations

from host._lazy import lazy_exports

__all__ = [
    "Account",
    "AccountSpec",
    "Agreement",
    "AllianceSettings",
    "Asset",
    "BackOffice",
    "BackOfficeError",
    "Balance",
    "BatchRejectedError",
    "CardKeys",
    "CardVerifier",
    "ClearingResult",
    "Clock",
    "Database",
    "FixedClock",
    "IdReusedError",
    "Ledger",
    "LedgerError",
    "Member",
    "MemberKind",
    "PaymentRecord",
    "PurseRecord",
    "Ratio",
    "Reason",
    "Rounding",
    "SoftwareCardVerifier",
    "Source",
    "SourceKind",
    "StaticKeyStore",
    "SystemClock",
    "TerminalBatch",
    "Transfer",
    "TransferCode",
    "TransferRejectedError",
    "TransferResult",
    "default_url",
    "load_key_file",
    "parse_batch",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    ".accounts": ("Account", "AccountSpec"),
    ".agreements": ("Agreement",),
    ".assets": ("Asset",),
    ".card_keys": ("CardKeys", "StaticKeyStore", "load_key_file"),
    ".clearing": ("ClearingResult",),
    ".clock": ("Clock", "FixedClock", "SystemClock"),
    ".database": ("Database", "default_url"),
    ".errors": (
        "BackOfficeError", "BatchRejectedError", "IdReusedError", "LedgerError",
        "TransferRejectedError",
    ),
    ".ledger": ("Ledger",),
    ".members": ("Member", "MemberKind"),
    ".rates": ("Ratio", "Rounding"),
    ".records": ("PaymentRecord", "PurseRecord", "TerminalBatch", "parse_batch"),
    ".service": ("BackOffice",),
    ".settings": ("AllianceSettings",),
    ".transfers": (
        "Balance", "Reason", "Source", "SourceKind", "Transfer", "TransferCode", "TransferResult",
    ),
    ".verifier": ("CardVerifier", "SoftwareCardVerifier"),
})
