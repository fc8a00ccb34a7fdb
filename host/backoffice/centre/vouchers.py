"""Single-use top-up vouchers (F23): the centre issues codes of a face value (shown once,
stored only as SHA-256 digests); a holder redeems one onto the virtual account. A voucher
unknown or already used is refused and moves nothing."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from host.backoffice.assets import Asset, check_amount
from host.backoffice.centre.errors import VoucherRefusedError
from host.backoffice.centre.holders import Holder
from host.backoffice.centre.tables import sc_vouchers
from host.backoffice.centre.tiers import VOUCHERS_ACCOUNT
from host.backoffice.clock import from_micros, to_micros
from host.backoffice.errors import ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.schema import FORMAT_VERSION
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer

__all__ = ["issue_vouchers", "redeem_voucher"]

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).digest()


def issue_vouchers(conn: Connection, amount: int, count: int, *, at: datetime) -> list[str]:
    """``count`` new codes of face value ``amount``; the clear codes exist only in the answer."""
    check_amount(amount, what="voucher amount")
    if not 1 <= count <= 10_000:
        raise ValidationError("issue 1 to 10,000 vouchers at a time")
    codes = ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))
             for _ in range(count)]
    conn.execute(insert(sc_vouchers), [
        {"digest": _digest(c), "amount": amount, "created_at": to_micros(at),
         "format_version": FORMAT_VERSION} for c in codes])
    return codes


def redeem_voucher(conn: Connection, ledger: Ledger, holder: Holder, code: str, *,
                   at: datetime) -> int:
    """Credit the voucher's value to the holder's virtual account; returns the value."""
    digest = _digest(code)
    row = conn.execute(select(sc_vouchers).where(sc_vouchers.c.digest == digest)).first()
    if row is None:
        raise VoucherRefusedError("unknown_voucher", "no such voucher")
    if row.used_by is not None:
        raise VoucherRefusedError("voucher_used", "voucher already used on "
                                  f"{from_micros(row.used_at).date().isoformat()}")
    transfer_id = f"sc:voucher:{digest.hex()[:32]}"
    ledger.apply(conn, [Transfer.single(
        transfer_id, VOUCHERS_ACCOUNT, holder.virtual, row.amount, Asset.CNY, Reason.TOP_UP,
        Source(SourceKind.MEMBER, holder.holder_id))], at=at, all_or_nothing=True)
    conn.execute(update(sc_vouchers).where(sc_vouchers.c.digest == digest).values(
        used_by=holder.holder_id, transfer_id=transfer_id, used_at=to_micros(at)))
    return int(row.amount)
