"""A terminal's batch of card transactions as the back office receives it.

The formats live in :mod:`host.records` (terminals produce them without the ledger) and are
re-exported here under their old name; what reads them back from the database is here.
"""

from __future__ import annotations

import json
from typing import Any

from host.records.assets import Asset
from host.records.batch import (
    BATCH_FORMAT,
    TXN_TYPE_LOAD,
    TXN_TYPE_PURCHASE,
    PaymentRecord,
    PurseRecord,
    Record,
    TerminalBatch,
    parse_batch,
    record_to_dict,
)

__all__ = [
    "BATCH_FORMAT",
    "TXN_TYPE_LOAD",
    "TXN_TYPE_PURCHASE",
    "PaymentRecord",
    "PurseRecord",
    "Record",
    "TerminalBatch",
    "parse_batch",
    "record_from_row",
    "record_to_dict",
]


def record_from_row(row: Any) -> Record:
    """A card record as stored by clearing (``bo_card_records``), ready to verify again (its
    claimed fields, which no MAC covers, come back from the ``claimed`` column)."""
    time_text = row.card_time
    if row.record_type == "payment":
        data = bytes(row.mac_data)
        return PaymentRecord(
            row.record_id, row.card_id, row.purse.removeprefix("chip1."), row.amount,
            row.card_seq, bytes(row.mac), data[:-2], data[-2:], time_text[:8], time_text[8:],
            bytes(row.mac_extra or b""), bytes(row.final_mac or b""),
            bytes(row.final_mac_data or b""), bytes(row.final_mac_extra or b""),
        )
    claimed = json.loads(row.claimed) if row.claimed else {}
    return PurseRecord(
        row.record_id, row.record_type, row.card_id, Asset(row.purse), row.amount,
        bytes.fromhex(row.terminal_id), claimed.get("card_seq", row.card_seq), time_text[:8],
        time_text[8:], bytes(row.mac),
        balance_after=claimed.get("balance_after", row.balance_after),
        terminal_seq=row.terminal_seq,
    )
