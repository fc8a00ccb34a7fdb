"""The ledger's assets, kept in :mod:`host.records.assets` (terminal records name them too)
and re-exported here under their old name."""

from __future__ import annotations

from host.records.assets import MAX_AMOUNT, PURSE_ASSETS, Asset, check_amount, parse_asset

__all__ = ["MAX_AMOUNT", "PURSE_ASSETS", "Asset", "check_amount", "parse_asset"]
