"""Which network account a card pays from at a merchant's till: the terminal reads the
holder's card identity from chip 1 and the host names the holder's account of that
merchant's program, so the till never needs to know account ids."""

from __future__ import annotations

from sqlalchemy import Connection, select

from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.prepaid.schema import pp_accounts
from host.backoffice.schema import bo_members

__all__ = ["account_of_card"]


def account_of_card(conn: Connection, card_id: str, merchant_id: str,
                    program_id: str | None = None) -> str:
    """The network account of the holder of ``card_id`` under ``merchant_id``'s program
    (``program_id`` names it when the holder has accounts in several of them)."""
    holder = conn.execute(select(bo_members.c.id)
                          .where(bo_members.c.card_id == card_id)).scalar_one_or_none()
    if holder is None:
        raise NotFoundError(f"no holder with card {card_id!r}")
    query = select(pp_accounts.c.id).where(pp_accounts.c.holder_id == holder,
                                           pp_accounts.c.merchant_id == merchant_id)
    if program_id is not None:
        query = query.where(pp_accounts.c.program_id == program_id)
    accounts = list(conn.execute(query.order_by(pp_accounts.c.id)).scalars())
    if not accounts:
        raise NotFoundError(f"card {card_id} has no prepaid account of {merchant_id}"
                            + (f"'s program {program_id}" if program_id else ""))
    if len(accounts) > 1:
        raise ValidationError(f"card {card_id} has accounts in several programs of "
                              f"{merchant_id}; name the program")
    return str(accounts[0])
