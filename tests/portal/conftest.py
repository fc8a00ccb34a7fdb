"""The portal over a real alliance: the POS suite's terminal sells to the sample card with
chip 1 and chip 2, spends and converts points, and uploads its batch, which the back office
clears; a second merchant and holder (with names a hostile member might choose) give every
page someone else's data to keep out. Each role has a portal account.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.routing import Mount

from host.backoffice import BackOffice, Member, MemberKind, Ratio
from host.backoffice.assets import Asset
from host.backoffice.centre import SettlementCentre, TierSettings
from host.backoffice.centre.escrow import OrderRequest
from host.backoffice.centre.order_rules import Condition, ReleaseBy
from host.backoffice.prepaid import PrepaidOffice, Program, ProgramKind, Trigger
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer
from host.portal.app import PATH, Portal
from host.portal.auth import Accounts, PortalRole, Throttle
from host.pos import PaymentMethod
from host.service.http_app import HTTPServer
from host.service.notices import Dispatcher, InboxChannel, create_notices_schema
from host.service.tcp_server import serve_in_thread
from tests.backoffice.conftest import pg_server_url, pg_url  # noqa: F401
from tests.pos.conftest import PIN, Rig, open_rig

#: passwords of the accounts the tests log in with
PASSWORDS = {"zhang": "zhang-password-1", "li": "li-password-22", "shop-a": "shop-a-password",
             "shop-b": "shop-b-password", "insurer": "insurer-password", "ops": "operator-pass-1"}
ROLES = {"zhang": ("zhang", PortalRole.CONSUMER), "li": ("li", PortalRole.CONSUMER),
         "shop-a": ("shop-a", PortalRole.MERCHANT), "shop-b": ("shop-b", PortalRole.MERCHANT),
         "insurer": ("insurer", PortalRole.INSURER), "ops": ("alliance", PortalRole.OPERATOR)}
HOSTILE_MERCHANT = '<script>alert("shop-b")</script> & Sons'
HOSTILE_HOLDER = "Li <img src=x onerror=alert(1)>"
ADDRESS = "8 Park Road, Shanghai"
#: a cheap argon2id for tests (the portal's default costs 64 MiB per hash)
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class PortalClock:
    """The portal's clock: the terminal's day, moved by the tests."""

    def __init__(self, at: dt.datetime) -> None:
        self.now = at

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Alliance:
    office: BackOffice
    portal: Portal
    url: str
    clock: PortalClock
    facts: dict[str, Any] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, **kwargs: Any) -> httpx.Client:
        """A new visitor (its own cookies), closed when the test ends."""
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    def logged_in(self, login: str, client: httpx.Client | None = None) -> httpx.Client:
        client = client or self.client()
        answer = login_as(client, login, PASSWORDS[login])
        assert answer.status_code == 303, answer.text
        return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login_as(client: httpx.Client, login: str, password: str) -> Any:
    token = csrf_of(client.get(f"{PATH}/login").text)
    return client.post(f"{PATH}/login", data={"login": login, "password": password, "csrf": token})


def populate(rig: Rig) -> dict[str, Any]:
    """A day at SHOP A (a credit sale, points spent, a premium paid with points), cleared;
    SHOP B awarding LI points by a transfer; credit reviewed."""
    office, terminal = rig.office, rig.terminal
    terminal.purchase(1_500_00, pin=PIN, method=PaymentMethod.CREDIT)
    rig.clock.advance()
    receipts = terminal.upload()
    rig.clock.advance()
    terminal.spend_points(200)
    rig.clock.advance()
    terminal.pay_premium(300, insurer_id="insurer", policy="POL-7")
    rig.clock.advance()
    receipts += terminal.upload()
    at = rig.clock.advance()
    office.add_members([
        Member("shop-b", MemberKind.MERCHANT, HOSTILE_MERCHANT, at,
               two_way=Ratio(1, 10),
               terminals=("0000000B0001",)),
        Member("li", MemberKind.CONSUMER, HOSTILE_HOLDER, at, card_id="CARD-LI",
               consumer_group="standard"),
    ], at=at)
    office.ledger.post_all([Transfer.single(
        "shop-b-earn-1", "shop-b:points_issued", "li:consumption_points", 77,
        Asset.CONSUMPTION_POINTS, Reason.EARN, Source(SourceKind.MERCHANT, "shop-b"))], at=at)
    office.review_credit(at=at)
    facts = {"batches": [r.batch_id for r in receipts], **prepaid(office, rig.clock.advance()),
             **centre(office, rig.clock.advance())}
    create_notices_schema(office.db)
    delivered = rig.clock.advance()
    Dispatcher(office.db, [InboxChannel(office.db)], clock=lambda: delivered).run_once()
    return facts


def prepaid(office: BackOffice, at: dt.datetime) -> dict[str, Any]:
    """Prepaid cards: ZHANG's at SHOP A insured by the insurer, LI's at SHOP B insured by a
    second insurer; a claim open on each merchant (each insurer's to review)."""
    office.add_members([Member("insurer-b", MemberKind.INSURER, "Second Insurer", at)], at=at)
    pp = PrepaidOffice(office.db)
    pp.add_program(Program("A-GYM", "shop-a", ProgramKind.BONUS, 500_000, "insurer",
                           premium_bp=80, bonus_bp=1_000), at=at)
    pp.add_program(Program("B-CAKE", "shop-b", ProgramKind.BONUS, 100_000, "insurer-b",
                           premium_bp=50, bonus_bp=500), at=at)
    zhang = pp.issue("buy-zhang", "A-GYM", "zhang", 700_000, at=at)
    li = pp.issue("buy-li", "B-CAKE", "li", 50_000, at=at)
    pp.pay("pay-zhang", zhang["account"], 120_000, at=at, merchant_id="shop-a")
    later = at + dt.timedelta(hours=1)
    for claim, merchant in (("CLM-A", "shop-a"), ("CLM-B", "shop-b")):
        pp.open_claim(claim, merchant, Trigger.CLOSURE, trigger_at=later, at=later)
    return {"prepaid": {"zhang": zhang["account"], "li": li["account"]}}


def centre(office: BackOffice, at: dt.datetime) -> dict[str, Any]:
    """The settlement centre: ZHANG's three tiers and LI's, a water bill ZHANG paid to SHOP B
    (a biller), orders: ZHANG's at SHOP A held for a code, another accepted (shopping), and
    LI's at SHOP B held to a date."""
    sc = SettlementCentre(office.db)
    for holder in ("zhang", "li"):
        sc.bank.open_account(f"BK-{holder}", deposit=2_000_000, at=at)  # type: ignore[attr-defined]
        sc.open_account(holder, TierSettings(500_000, 200_000, 400_000),
                        bank_account=f"BK-{holder}", addresses=[ADDRESS], at=at)
    sc.register_biller("shop-b", "water", at=at)
    sc.issue_bill("shop-b", "3301-0042", "2025-05", 12_000, at=at)
    sc.pay_bill("zhang", "shop-b", "3301-0042", at=at)
    expires = at + dt.timedelta(days=30)
    _, code, _ = sc.place_order(OrderRequest("ORD-A1", "zhang", "shop-a", 60_000,
                                             Condition.CODE, ADDRESS, expires, mcc=5942), at=at)
    sc.place_order(OrderRequest("ORD-A2", "zhang", "shop-a", 25_000, Condition.ACCEPTANCE,
                                ADDRESS, expires, mcc=5812), at=at)
    sc.release("ORD-A2", "accept-A2", by=ReleaseBy.HOLDER, at=at)
    sc.place_order(OrderRequest("ORD-B1", "li", "shop-b", 9_900, Condition.DATE, ADDRESS,
                                expires, release_at=at + dt.timedelta(days=3)), at=at)
    return {"code": code}


def open_alliance(sim_card: Any, tmp_path: Path, url: str | None = None) -> Iterator[Alliance]:
    """The populated alliance (SQLite unless ``url``) and its portal, served on loopback."""
    for rig in open_rig(sim_card, tmp_path, url):
        facts = populate(rig)
        clock = PortalClock(rig.clock.advance())
        accounts = Accounts(rig.office.db, clock=clock, hasher=TEST_HASHER, throttle=Throttle())
        portal = Portal(rig.office.db, clock=clock, accounts=accounts)
        for login, (member, role) in ROLES.items():
            accounts.add(login, member, role, PASSWORDS[login])
        app = Starlette(routes=[Mount(PATH, app=portal.app())])
        with serve_in_thread(HTTPServer(app)) as (host, port):
            alliance = Alliance(rig.office, portal, f"http://{host}:{port}", clock, facts)
            try:
                yield alliance
            finally:
                for client in alliance.clients:
                    client.close()


@pytest.fixture
def alliance(sim_card: Any, tmp_path: Path) -> Iterator[Alliance]:
    yield from open_alliance(sim_card, tmp_path)


@pytest.fixture
def pg_alliance(sim_card: Any, tmp_path: Path, pg_url: str) -> Iterator[Alliance]:  # noqa: F811
    yield from open_alliance(sim_card, tmp_path, pg_url)
