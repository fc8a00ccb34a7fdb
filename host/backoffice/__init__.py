"""The alliance back office: a double-entry, append-only ledger (SQLite by default, PostgreSQL
by URL) and the business on top of it: members and agreements, clearing of terminal batches
with verified card MACs, net settlement, conversion of points, credit granting, notices.

Start with :class:`BackOffice`; the ledger alone is :class:`Ledger` over a :class:`Database`.
"""

from host.backoffice.accounts import Account, AccountSpec
from host.backoffice.agreements import Agreement
from host.backoffice.assets import Asset
from host.backoffice.card_keys import CardKeys, StaticKeyStore, load_key_file
from host.backoffice.clearing import ClearingResult
from host.backoffice.clock import Clock, FixedClock, SystemClock
from host.backoffice.database import Database, default_url
from host.backoffice.errors import (
    BackOfficeError,
    BatchRejectedError,
    IdReusedError,
    LedgerError,
    TransferRejectedError,
)
from host.backoffice.ledger import Ledger
from host.backoffice.members import Member, MemberKind
from host.backoffice.rates import Ratio, Rounding
from host.backoffice.records import PaymentRecord, PurseRecord, TerminalBatch, parse_batch
from host.backoffice.service import BackOffice
from host.backoffice.settings import AllianceSettings
from host.backoffice.transfers import (
    Balance,
    Reason,
    Source,
    SourceKind,
    Transfer,
    TransferCode,
    TransferResult,
)
from host.backoffice.verifier import CardVerifier, SoftwareCardVerifier

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
