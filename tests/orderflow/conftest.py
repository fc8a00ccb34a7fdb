"""The service host on loopback with what an online order needs: the holder's card bound to
a personal reader, its PVV on the issuer's record, SHOP A's terminal with a ZPK, the
holder's address on file with the authentication centre and the settlement centre, a credit
line, the shop's account for the holder; and a second merchant with its own terminal."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from apdu_specs.crypto.cvv import pvv
from host.backoffice import Member, MemberKind, Ratio
from host.backoffice.addresses import DeliveryAddress, set_delivery_address
from host.backoffice.centre import SettlementCentre, TierSettings
from host.perso import HolderRecord, NumberStore, load_profile
from host.perso.plan import PINCheck
from host.reader import PersonalReader, bind
from host.service.pin_keys import register_pin_key
from host.service.terminals import register_terminal
from host.shop import MerchantTerminal, ShopStore
from host.shop.store import Account
from host.testing.personalise import SAMPLE
from simulator.card import SimulatedCard
from tests.perso.perso_helpers import PROFILE
from tests.pos.conftest import MERCHANT, PIN, START
from tests.reader.helpers import AID, ISSUER, client, fresh_card, reader
from tests.service.conftest import Host, open_service

PAN = SAMPLE.debit.pan
ZPK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
ADDRESS = DeliveryAddress("8 Park Road", "200031", "Shanghai")
SHOP_B = "0000000B0001"
PASSWORD = "green-tea-2030"
__all__ = ["ADDRESS", "PASSWORD", "PIN", "ZPK", "Shop"]


@dataclasses.dataclass
class Shop:
    host: Host
    terminal: MerchantTerminal
    store: ShopStore
    account: Account
    card: SimulatedCard
    reader: PersonalReader
    other: MerchantTerminal  #: SHOP B's terminal

    @property
    def centre(self) -> SettlementCentre:
        return SettlementCentre(self.host.office.db)


def _issuer_record(db_url: str) -> None:
    with NumberStore(db_url) as store:
        store.allocate(load_profile(PROFILE), [HolderRecord(0, "ZHANG/SAN", "H-ZHANG", pan=PAN,
                                                            card_id=SAMPLE.identity)], "run")
        store.mark_issued(SAMPLE.identity,
                          PINCheck("1", pvv(SAMPLE.payment_keys.pvk, PAN, "1", PIN)))


def _holder(service: Host) -> None:
    office = service.office
    register_pin_key(office.db, MERCHANT.terminal_hex, at=START, key=ZPK)
    set_delivery_address(office.db, "zhang", ADDRESS, at=START)
    office.open_credit_line("zhang", 5_000_00, at=START)
    centre = SettlementCentre(office.db)
    centre.bank.open_account("BK-zhang", deposit=10_000_000, at=START)  # type: ignore[attr-defined]
    centre.open_account("zhang", TierSettings(500_000, 100_000, 300_000),
                        bank_account="BK-zhang", addresses=[ADDRESS.street], at=START)


def _shop_b(service: Host) -> MerchantTerminal:
    service.office.add_member(Member("shop-b", MemberKind.MERCHANT, "Shop B", START,
                                     two_way=Ratio(1, 10), terminals=(SHOP_B,)), at=START)
    key = register_terminal(service.office.db, SHOP_B, at=START).key
    return MerchantTerminal(service.http_url or "", SHOP_B, key)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    url = f"sqlite:///{tmp_path / 'alliance.sqlite3'}"
    for service in open_service(tmp_path, url):
        _issuer_record(url)
        _holder(service)
        card = fresh_card()
        holder_reader = reader(path=tmp_path / "reader.json")
        bind(client(card), AID, ISSUER, holder_reader)
        store = ShopStore(tmp_path / "shop")
        account = store.set_account("zhang", SAMPLE.identity, "张三 ZHANG SAN", PASSWORD)
        terminal = MerchantTerminal(service.http_url or "", MERCHANT.terminal_hex,
                                    service.terminal.key)
        yield Shop(service, terminal, store, account, card, holder_reader, _shop_b(service))
