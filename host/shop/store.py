"""The shop's own files: its catalogue, its holders' accounts (password as an scrypt digest)
and the orders that arrived, one JSON file each, in one directory."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from host.slips import Item

from .errors import ShopError, ShopLoginError

__all__ = ["CATALOGUE", "Account", "ShopOrder", "ShopStore"]

#: the example shop's items: name, price in fen
CATALOGUE: dict[str, Item] = {
    "tea": Item("绿茶 Green tea 500g", 1, 4500),
    "cooker": Item("Rice cooker 电饭煲", 1, 29900),
    "book": Item("Field guide to birds", 1, 8800),
}
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
#: wrong passwords in a row that lock an account until an operator sets a new password
MAX_FAILURES = 5


@dataclass(frozen=True)
class Account:
    member_id: str
    card_id: str  #: the card's identity at the alliance (what the authentication centre knows)
    name: str
    salt: str
    digest: str
    failures: int = 0  #: wrong passwords in a row (locked at :data:`MAX_FAILURES`)


@dataclass(frozen=True)
class ShopOrder:
    """An order as it arrived at the merchant (amounts in fen)."""

    order_id: str
    merchant_id: str
    holder_id: str
    holder_name: str
    items: list[dict[str, Any]]
    address: list[str]
    amount: int
    condition: str
    state: str = "held"
    release_at: str = ""  #: a date order's release date (ISO 8601)


def _digest(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT).hex()


class ShopStore:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()  # one process's threads; one shop process per directory
        (self.directory / "orders").mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ShopStore({self.directory})"

    # -- accounts ---------------------------------------------------------------------------

    def _accounts(self) -> dict[str, Any]:
        path = self.directory / "accounts.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def set_account(self, member_id: str, card_id: str, name: str, password: str) -> Account:
        """An operator's act: the holder's account, its password replaced."""
        if len(password) < 8:
            raise ShopError("a password needs at least 8 characters")
        salt = os.urandom(16)
        account = Account(member_id, card_id, name, salt.hex(), _digest(password, salt))
        with self._lock:
            self._put(account)
        return account

    def _put(self, account: Account) -> None:
        accounts = {**self._accounts(), account.member_id: asdict(account)}
        path = self.directory / "accounts.json"
        path.write_text(json.dumps(accounts, indent=1))
        path.chmod(0o600)

    def login(self, member_id: str, password: str) -> Account:
        """The account if the password is right; a wrong one is counted, and after
        :data:`MAX_FAILURES` in a row the account is locked (a right one then fails too)."""
        with self._lock:
            raw = self._accounts().get(member_id)
            if raw is None:
                _digest(password, b"\0" * 16)  # the same work for an unknown id
                raise ShopLoginError("member id or password wrong")
            account = Account(**raw)
            if account.failures >= MAX_FAILURES:
                raise ShopLoginError(f"account {member_id} is locked: an operator must set a "
                                     "new password")
            right = hmac.compare_digest(_digest(password, bytes.fromhex(account.salt)),
                                        account.digest)
            failures = 0 if right else account.failures + 1
            if failures != account.failures:
                self._put(replace(account, failures=failures))
        if not right:
            raise ShopLoginError("member id or password wrong")
        return replace(account, failures=0)

    # -- orders -----------------------------------------------------------------------------

    def _order_path(self, order_id: str) -> Path:
        if not order_id.replace("-", "").isalnum():
            raise ShopError(f"order id {order_id!r} is not the shop's")
        return self.directory / "orders" / f"{order_id}.json"

    def save(self, order: ShopOrder) -> None:
        self._order_path(order.order_id).write_text(json.dumps(asdict(order), ensure_ascii=False,
                                                               indent=1), encoding="utf-8")

    def order(self, order_id: str) -> ShopOrder:
        path = self._order_path(order_id)
        if not path.exists():
            raise ShopError(f"no order {order_id} at this shop")
        return ShopOrder(**json.loads(path.read_text(encoding="utf-8")))

    def orders(self) -> list[ShopOrder]:
        paths = sorted((self.directory / "orders").glob("*.json"))
        return [ShopOrder(**json.loads(p.read_text(encoding="utf-8"))) for p in paths]
