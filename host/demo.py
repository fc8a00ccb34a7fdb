"""``make demo``: one day of the alliance, end to end, on embedded defaults.

    python -m host.demo --reader sim|vpcd [--json] [--out DIR]

Fresh issuer keys; three dual-chip cards personalised through their security domains;
an alliance of three merchants, a bank and an insurer with their agreements; a day of
sales by debit and credit with points earned on chip 2, points spent at a merchant, a
premium paid with points, bank points converted, a stripe fallback; the terminals'
batches cleared (one uploaded twice), the day settled; a credit line raised by the back
office that reaches the card at its next purchase; statements; a prepaid membership split
into insured sub-cards, spent as one card, and a claim paid from live balances when the
bookstore closes; a personal reader bound to a card, refusing another, and an order from
home through the online order flow, printed at the merchant (:mod:`host.demo_order`).

``--reader sim`` runs the cards in process. ``--reader vpcd`` serves each card in turn
on the virtual reader (pcscd + vpcd, fixed slots) and talks PC/SC, swapping cards
between transactions as a holder hands one over. Output is numbered steps for a
person, or one JSON document (``--json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto import luhn
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.kcv import kcv
from apdu_specs.errors import LocalError
from apdu_specs.payment.aids import CREDIT_AID
from apdu_specs.payment.cryptogram import IssuerMasterKeys, version_for
from host.backoffice import (
    Agreement,
    Asset,
    BackOffice,
    CardKeys,
    Member,
    MemberKind,
    Ratio,
    Rounding,
    SoftwareCardVerifier,
    StaticKeyStore,
)
from host.backoffice.errors import BatchRejectedError
from host.backoffice.inprocess_link import PURSE_ASSETS
from host.backoffice.prepaid import PrepaidOffice, Program, ProgramKind, Trigger
from host.demo_order import order_from_home
from host.demo_service import DemoService, demo_service
from host.payment.client import PaymentClient
from host.payment.issuer import AuthorisationPolicy
from host.payment.keys import IssuerKeys
from host.payment.profile import ApplicationProfile, Product
from host.payment.stripe import encode_stripe
from host.points import PurseIssuerKeys, SoftwarePurchaseSAM
from host.pos import (
    Journal,
    MerchantIdentity,
    PaymentMethod,
    SaleResult,
    Terminal,
    format_cny,
)
from host.pos.context import EmptySlot
from host.pos.records import PointsResult
from host.records.batch import TerminalBatch
from host.testing.faults import CardFaults
from host.testing.personalise import SampleCard, sample_card
from host.transport.base import Transport
from host.transport.sim import sim_transports
from host.transport.t0 import T0Transport

__all__ = ["DemoError", "Story", "main", "run_demo"]

CST = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2025, 6, 18)
BANK, INSURER = "icbc-demo", "pingan-demo"


class DemoError(LocalError):
    """The demo cannot run as asked here (e.g. no virtual reader for ``--reader vpcd``)."""


# -- the story ---------------------------------------------------------------------------


@dataclass
class Step:
    number: int
    title: str
    explanation: str
    events: list[dict[str, Any]] = field(default_factory=list)


class Story:
    """Numbered steps with short explanations; printed as it goes, or kept for JSON."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.steps: list[Step] = []
        self._echo = echo

    def step(self, title: str, explanation: str) -> None:
        self.steps.append(Step(len(self.steps) + 1, title, explanation))
        if self._echo:
            self._echo(f"\n{len(self.steps)}. {title}\n   {explanation}")

    def event(self, text: str, **data: Any) -> None:
        self.steps[-1].events.append({"text": text, **data})
        if self._echo:
            for line in text.splitlines():
                self._echo(f"   {line}")

    def as_dict(self) -> dict[str, Any]:
        return {"steps": [{"number": s.number, "title": s.title, "explanation": s.explanation,
                           "events": s.events} for s in self.steps]}


# -- the cast ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    member_id: str
    name: str  #: SURNAME/GIVEN, as the card carries it
    identity: str  #: the card identity (chip 2), which the alliance knows the holder by
    pan_prefix: str
    pin: str
    credit_limit: int


HOLDERS = (
    Holder("zhang", "ZHANG/SAN", "6200001000000001", "62000010000000", "1234", 500_000),
    Holder("li", "LI/LEI", "6200001000000002", "62000010000001", "2580", 100_000),
    Holder("han", "HAN/MEIMEI", "6200001000000003", "62000010000002", "1357", 300_000),
)
MERCHANTS = (
    ("supermarket", "HAPPY SUPERMARKET", "0000000A0001", 1, 100),
    ("electronics", "BRIGHT ELECTRONICS", "0000000B0001", 1, 100),
    ("bookstore", "RIVERSIDE BOOKS", "0000000C0001", 2, 100),
)
BANK_TERMINAL, INSURER_TERMINAL = "0000000D0001", "0000000E0001"
SHOP_MERCHANT = "electronics"  #: the merchant whose web shop zhang orders from


def _pan(prefix: str, product: Product) -> str:
    body = prefix + ("1" if product is Product.DEBIT else "2") + "0"
    body = body[:15]
    return body + luhn.check_digit(body)


@dataclass
class Keys:
    payment: IssuerKeys
    points: PurseIssuerKeys

    @classmethod
    def generate(cls) -> Keys:
        r = os.urandom
        return cls(IssuerKeys(IssuerMasterKeys(r(16), r(16), r(16)), r(16), r(16)),
                   PurseIssuerKeys(Algorithm.AES, r(16), r(16), r(16)))

    def kcvs(self) -> dict[str, str]:
        emv = self.payment.emv
        return {"emv-ac": kcv(Algorithm.AES, emv.ac).hex().upper(),
                "emv-smi": kcv(Algorithm.AES, emv.smi).hex().upper(),
                "emv-smc": kcv(Algorithm.AES, emv.smc).hex().upper(),
                "points-load": kcv(Algorithm.AES, self.points.load_master).hex().upper(),
                "points-purchase": kcv(Algorithm.AES, self.points.purchase_master).hex().upper(),
                "points-tac": kcv(Algorithm.AES, self.points.tac_master).hex().upper()}


def _card_data(holder: Holder, keys: Keys) -> SampleCard:
    debit = ApplicationProfile(Product.DEBIT, _pan(holder.pan_prefix, Product.DEBIT), "3012",
                               holder.name, offline_limit=20_000, pin=holder.pin)
    credit = ApplicationProfile(Product.CREDIT, _pan(holder.pan_prefix, Product.CREDIT), "3012",
                                holder.name, credit_limit=holder.credit_limit, priority=2,
                                pin=holder.pin)
    return SampleCard(holder.identity, debit, credit, keys.payment, keys.points, purse_pin=None)


def _key_store(cards: Sequence[SampleCard], keys: Keys) -> StaticKeyStore:
    """What the back office verifies card records with: TAC keys, ICC AC master keys."""
    store = {}
    for data in cards:
        dtk = {PURSE_ASSETS[p].value: keys.points.card_keys(data.identity, p).dtk for p in Purse}
        ac_mk = {p.product.value: version_for(p.cvn).icc_master_key(keys.payment.emv.ac, p.pan,
                                                                    p.psn)
                 for p in data.payment_profiles}
        store[data.identity] = CardKeys(dtk, ac_mk)
    return StaticKeyStore(store, Algorithm.AES)


# -- cards in a reader -------------------------------------------------------------------


class Reader:
    """Presents one card at a time: in process (``sim``) or on the virtual reader."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._sim: dict[str, tuple[Transport, Transport]] = {}

    def start(self) -> None:
        if self.kind == "vpcd":
            from host.testing.pcscd import PCSCStackUnavailable, ensure_pcsc_stack

            try:
                ensure_pcsc_stack()
            except PCSCStackUnavailable as exc:
                raise DemoError(f"--reader vpcd needs pcscd with vsmartcard-vpcd: {exc} "
                                "(make sysdeps, or use --reader sim)") from None

    @contextmanager
    def present(self, card: Any) -> Iterator[tuple[Transport, Transport]]:
        if self.kind == "vpcd":
            from host.testing.vpcd import served_on_vpcd

            with served_on_vpcd(card) as link:
                yield link.chip(1), link.chip(2)
            return
        if card.identity not in self._sim:
            pair = tuple(T0Transport(t) for t in sim_transports(card))
            for transport in pair:
                transport.connect()
            self._sim[card.identity] = pair  # type: ignore[assignment]
        yield self._sim[card.identity]


# -- the alliance ------------------------------------------------------------------------


@dataclass
class World:
    story: Story
    reader: Reader
    keys: Keys
    office: BackOffice
    cards: dict[str, Any]  #: member id -> simulated card
    data: dict[str, SampleCard]
    terminals: dict[str, Terminal]
    now: dt.datetime

    def clock(self) -> dt.datetime:
        return self.now

    def at(self, hour: int, minute: int = 0, day: dt.date = DAY) -> None:
        self.now = dt.datetime.combine(day, dt.time(hour, minute), CST)

    @contextmanager
    def card_at(self, holder: str, terminal: str) -> Iterator[Terminal]:
        """The holder hands the card over at ``terminal``."""
        with self.reader.present(self.cards[holder]) as (chip1, chip2):
            term = self.terminals[terminal]
            term.attach(chip1, chip2)
            yield term


def _setup_alliance(story: Story, out: Path, keys: Keys, data: dict[str, SampleCard]) -> BackOffice:
    verifier = SoftwareCardVerifier(_key_store(list(data.values()), keys))
    office = BackOffice(f"sqlite:///{out / 'ledger.sqlite3'}", verifier=verifier)
    opened = dt.datetime.combine(DAY, dt.time(7, 0), CST)
    office.init(at=opened)
    members = [Member(mid, MemberKind.MERCHANT, name.title(), opened, two_way=Ratio(1, 10),
                      terminals=(tid,)) for mid, name, tid, _, _ in MERCHANTS]
    members += [Member(BANK, MemberKind.BANK, "Demo Bank", opened, terminals=(BANK_TERMINAL,)),
                Member(INSURER, MemberKind.INSURER, "Demo Insurance", opened,
                       terminals=(INSURER_TERMINAL,))]
    members += [Member(h.member_id, MemberKind.CONSUMER, h.name.replace("/", " ").title(), opened,
                       card_id=h.identity, consumer_group="standard") for h in HOLDERS]
    office.add_members(members, at=opened)
    for h in HOLDERS:  # the back office starts from the limits the cards were issued with
        office.open_credit_line(h.member_id, h.credit_limit, at=opened)
    agreements = [Agreement(f"{mid}-std", mid, "standard", Asset.CONSUMPTION_POINTS, pts, per,
                            Rounding.DOWN, opened) for mid, _, _, pts, per in MERCHANTS]
    agreements += [Agreement("bank-debit", BANK, "standard", Asset.BANK_POINTS, 1, 200,
                             Rounding.DOWN, opened),
                   Agreement("bank-credit", BANK, "standard", Asset.CREDIT_POINTS, 1, 100,
                             Rounding.DOWN, opened)]
    for agreement in agreements:
        office.add_agreement(agreement, at=opened)
    for mid, name, tid, pts, per in MERCHANTS:
        story.event(f"merchant {name:<20} terminal {tid}  earns {pts} point(s) per "
                    f"{format_cny(per)}", merchant=mid, terminal=tid, points=pts, per_fen=per)
    story.event(f"bank {BANK}: 1 bank point per CNY 2.00 by debit, 1 credit point per "
                "CNY 1.00 by credit; insurer " + INSURER, bank=BANK, insurer=INSURER)
    for h in HOLDERS:
        story.event(f"consumer {h.member_id:<6} card {h.identity}  ({h.name})  credit line "
                    f"{format_cny(h.credit_limit)}", member=h.member_id, card=h.identity)
    return office


def _build_world(story: Story, reader: Reader, out: Path) -> World:
    story.step("Issuer keys", "The bank's EMV master keys (chip 1) and the alliance's purse "
               "master keys (chip 2) are generated; only key check values are ever shown.")
    keys = Keys.generate()
    story.event("  ".join(f"{name} KCV {value}" for name, value in keys.kcvs().items()),
                kcvs=keys.kcvs())

    story.step("Cards personalised", "Each blank dual-chip card is personalised through each "
               "chip's security domain (SCP03): debit and credit on chip 1, three purses on "
               "chip 2; the stripe carries track 1 and 2 with service code 201 (chip card).")
    data = {h.member_id: _card_data(h, keys) for h in HOLDERS}
    cards = {}
    for h in HOLDERS:
        card = sample_card(data[h.member_id])
        tracks = encode_stripe(data[h.member_id].debit, keys.payment)
        card.card.stripe.track1, card.card.stripe.track2 = tracks.track1, tracks.track2
        cards[h.member_id] = card
        d = data[h.member_id]
        story.event(f"{h.name:<11} card {h.identity}  debit {_mask(d.debit.pan)}  credit "
                    f"{_mask(d.credit.pan)} (limit {format_cny(h.credit_limit)})",
                    holder=h.member_id, card=h.identity, credit_limit=h.credit_limit)

    story.step("The alliance", "Three merchants, a bank and an insurer sign the alliance's "
               "agreements: how many points a purchase earns (F4, F10, F17).")
    office = _setup_alliance(story, out, keys, data)
    return World(story, reader, keys, office, cards, data, {}, dt.datetime.now(CST))


#: every terminal of the day: (member id, name on the receipt, terminal id)
TERMINALS = [(mid, name, tid) for mid, name, tid, _, _ in MERCHANTS] + [
    (BANK, "DEMO BANK", BANK_TERMINAL), (INSURER, "DEMO INSURANCE", INSURER_TERMINAL)]


@contextmanager
def _served(world: World, out: Path) -> Iterator[DemoService]:
    """The service host on loopback, and every terminal connected to it by its own link."""
    world.story.step("The service host", "The issuer and the back office answer terminals "
                     "over the network: ISO 8583 over TCP for chip authorisations, HTTP/JSON "
                     "for points, loads, redemptions and uploads, both over mutual TLS (a CA "
                     "made for the demo, a certificate per terminal). Each terminal has its "
                     "own key and MACs every message; the host believes a terminal only for "
                     "its own member (its log: service.log).")
    policy = AuthorisationPolicy(approve_up_to=20_000_00, refer_up_to=50_000_00)
    with demo_service(world.office, [tid for _, _, tid in TERMINALS],
                      payment_keys=world.keys.payment, points_keys=world.keys.points,
                      bank_id=BANK, policy=policy, clock=world.clock,
                      log=out / "service.log") as service:
        iso = service.iso
        world.story.event(f"ISO 8583 on {iso[0]}:{iso[1]}, HTTP/JSON on {service.http_url}",
                          iso=f"{iso[0]}:{iso[1]}", http=service.http_url)
        links = []
        for mid, name, tid in TERMINALS:
            identity = MerchantIdentity(mid, bytes.fromhex(tid), name)
            links.append(link := service.link(identity))
            world.terminals[mid] = Terminal(
                EmptySlot(), EmptySlot(), merchant=identity, backoffice=link,
                sam=SoftwarePurchaseSAM(world.keys.points, identity.terminal_id),
                journal=Journal(out / f"journal-{tid}.sqlite3", terminal_id=tid),
                clock=world.clock)
            world.story.event(f"terminal {tid} ({mid}): key KCV {service.kcv(tid)}",
                              terminal=tid, merchant=mid, key_kcv=service.kcv(tid))
        try:
            yield service
        finally:
            for link in links:
                link.close()


def _mask(pan: str) -> str:
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


# -- the day -----------------------------------------------------------------------------


def _sale_line(who: str, where: str, sale: SaleResult) -> str:
    head = f"{who:<6} at {where:<12} {format_cny(sale.amount):>14}  "
    how = sale.holder.application if sale.holder else ""
    outcome = f"{sale.status.value.upper()} ({sale.message})"
    points = ", ".join(f"+{m.points} {m.purse.label}" for m in sale.points)
    line = f"{head}{how:<16} {outcome}"
    if points:
        line += f"; points {points}"
    if sale.fallback:
        line += f"; FALLBACK after chip error: {sale.chip_error}"
    return line


def _sale_event(world: World, who: str, where: str, sale: SaleResult) -> None:
    world.story.event(_sale_line(who, where, sale), **{"who": who, "terminal": where,
                                                        **sale.to_dict()})


def _points_event(world: World, who: str, where: str, result: PointsResult) -> None:
    fen = result.redemption.fen if result.redemption else None
    text = (f"{who:<6} at {where:<12} {result.kind.value:<10} {result.points} "
            f"{result.purse.label} points: {result.status.value.upper()} ({result.message})")
    if fen is not None:
        text += f", worth {format_cny(fen)}"
    if result.movement:
        text += f"; card balance {result.movement.balance_after}"
    world.story.event(text, **{"who": who, "terminal": where, **result.to_dict()})


def _morning(world: World) -> None:
    world.story.step("Morning sales", "Each holder pays by chip 1 (PIN verified, ARQC sent "
                     "online, ARPC checked by the card) and earns points on chip 2: "
                     "consumption points from the merchant, bank points for debit, credit "
                     "points for credit. Every step is journaled before the slip prints.")
    world.at(9, 5)
    with world.card_at("zhang", "supermarket") as term:
        sale = term.purchase(268_50, pin="1234", method=PaymentMethod.DEBIT)
        _sale_event(world, "zhang", "supermarket", sale)
        world.story.event("the slip:\n" + term.receipt(sale.txn_id).rstrip(),
                          slip_of=sale.txn_id)
    world.at(9, 40)
    with world.card_at("li", "electronics") as term:
        sale = term.purchase(5_288_00, pin="2580", method=PaymentMethod.CREDIT)
        _sale_event(world, "li", "electronics", sale)
    world.at(10, 15)
    with world.card_at("han", "bookstore") as term:
        world.story.event("han mistypes the PIN, then pays again and picks credit on the "
                          "settlement screen:")
        wrong = term.purchase(88_00, pin="0000", method=PaymentMethod.DEBIT)
        _sale_event(world, "han", "bookstore", wrong)
        sale = term.purchase(88_00, pin="1357", choose=lambda apps: apps[-1])
        _sale_event(world, "han", "bookstore", sale)
    world.at(11, 0)
    with world.card_at("han", "electronics") as term:
        world.story.event("han tries more than the issuer approves (CNY 20,000.00):")
        declined = term.purchase(60_000_00, pin="1357", method=PaymentMethod.CREDIT)
        _sale_event(world, "han", "electronics", declined)
    world.at(11, 30)
    faults = CardFaults(world.cards["zhang"])
    faults.force_sw(chip=1, ins=0xA4, sw=0x6F00)  # chip 1 fails at the first SELECT
    with world.card_at("zhang", "supermarket") as term:
        world.story.event("zhang's chip 1 fails (a fault injected in the simulator); the "
                          "stripe (service code 201) is allowed only now, so the terminal "
                          "asks for a swipe:")
        card = world.cards["zhang"].card
        wedge = _wedge(card.stripe.track1, card.stripe.track2)
        sale = term.purchase(45_60, pin="1234", swipe=lambda: wedge)
        _sale_event(world, "zhang", "supermarket", sale)


def _wedge(*tracks: str) -> str:
    """What a keyboard-wedge reader types: each track up to its end sentinel, no LRC."""
    return "".join(track[: track.index("?") + 1] for track in tracks)


def _upload(world: World, names: Sequence[str], *, again: bool = False) -> None:
    for name in names:
        term = world.terminals[name]
        for receipt in term.upload():
            s = receipt.summary
            earned = ", ".join(f"{v} {k.replace('_points', '')}" for k, v in
                               sorted(dict(s.get("earned", {})).items())) or "none"
            world.story.event(
                f"{name:<12} batch {receipt.batch_id}: {receipt.status}; payments "
                f"{format_cny(int(s.get('payments_fen', 0)))}, points earned {earned}, "
                f"redeemed {s.get('redeemed', 0)}, merchant credit points "
                f"{s.get('merchant_credit_points', 0)}",
                terminal=name, batch=receipt.batch_id, status=receipt.status, summary=dict(s))
            if again:
                repeat = term.upload_batch(receipt.batch_id)
                world.story.event(f"{name:<12} batch {repeat.batch_id} sent again: "
                                  f"{repeat.status} (nothing posted twice)",
                                  terminal=name, batch=repeat.batch_id, status=repeat.status)


def _hostile_upload(world: World, *, thief: str, victim: str) -> None:
    """A dishonest terminal uploads another merchant's card records as its own: the back
    office refuses the whole batch and says why, record by record (docs/trust.md)."""
    victim_journal = world.terminals[victim].journal
    cleared = victim_journal.batches(uploaded=True)[0]
    records = victim_journal.batch(cleared.batch_id).records
    thief_id = world.terminals[thief].merchant.terminal_hex
    stolen = TerminalBatch(f"{thief_id}-STOLEN", thief_id, records)
    try:
        world.terminals[thief].ctx.link.upload(stolen, at=world.now)
    except BatchRejectedError as exc:
        reasons = sorted({r.reason for r in exc.rejections})
        world.story.event(f"{thief:<12} uploads {len(records)} of {victim}'s card records as "
                          f"its own: refused whole ({', '.join(reasons)}); nothing posted",
                          terminal=thief, batch=stolen.batch_id, status="rejected",
                          reasons=[{"record": r.record_id, "reason": r.reason}
                                   for r in exc.rejections])
        return
    raise DemoError("the back office cleared another merchant's records")


def _afternoon(world: World) -> None:
    world.story.step("Afternoon: points spent", "Points earned at one merchant are spent at "
                     "another (F17), turned into money by the bank, or pay an insurance "
                     "premium (F5, F20). The terminal's security module authorises each "
                     "debit; the card's MAC2 proves it and its TAC goes to the back office.")
    world.at(14, 10)
    with world.card_at("zhang", "bookstore") as term:
        _points_event(world, "zhang", "bookstore", term.spend_points(100))
    world.at(15, 0)
    with world.card_at("li", INSURER) as term:
        result = term.pay_premium(2_000, insurer_id=INSURER, policy="POL-2025-0618-LI")
        _points_event(world, "li", "insurer", result)
    world.at(15, 30)
    with world.card_at("zhang", BANK) as term:
        _points_event(world, "zhang", "bank", term.convert_points(50))


def _settle(world: World) -> None:
    world.story.step("Evening: clearing and settlement", "The other terminals upload; the "
                     "back office settles the day: each merchant funds the points it "
                     "issued and is reimbursed for the points redeemed at it.")
    world.at(20, 0)
    _upload(world, [m for m, *_ in MERCHANTS])
    after = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0, 30), CST)
    result = world.office.settle(DAY, at=after)
    for position in result.positions:
        net = position.net_fen
        flow = f"receives {format_cny(net)}" if net > 0 else f"pays {format_cny(-net)}"
        world.story.event(f"{position.merchant_id:<12} issued {position.points_issued:>5} "
                          f"points, {position.points_redeemed:>4} redeemed there: {flow}",
                          **position.as_dict())


def _credit_line(world: World) -> None:
    world.story.step("A credit line reaches the card", "The credit-granting unit (F11) raises "
                     "lines from points earned; the new limit waits in the back office and "
                     "reaches chip 1 as an issuer script (PUT DATA DF11) inside the card's "
                     "next online credit purchase. GET DATA shows the limit before and after.")
    next_day = DAY + dt.timedelta(days=1)
    world.at(8, 0, next_day)
    for decision in world.office.review_credit(at=world.now):
        if decision.raised:
            world.story.event(f"{decision.member_id}: {decision.explanation}",
                              **decision.as_dict())
    world.at(10, 0, next_day)
    with world.card_at("li", "supermarket") as term:
        before = _card_credit_limit(term)
        sale = term.purchase(99_00, pin="2580", method=PaymentMethod.CREDIT)
        after = _card_credit_limit(term)
        _sale_event(world, "li", "supermarket", sale)
    world.story.event(f"li's card: credit limit {format_cny(before)} before, "
                      f"{format_cny(after)} after (GET DATA DF11)",
                      limit_before=before, limit_after=after)
    _upload(world, ["supermarket"])


def _card_credit_limit(term: Terminal) -> int:
    client = PaymentClient(term.card.chip1)
    client.select_application(CREDIT_AID)
    return client.read_counters().credit_limit or 0


def _statements(world: World) -> None:
    world.story.step("Statements", "What each holder sees: the alliance's ledger (points and "
                     "money) and the card's own purses; and the merchants' positions.")
    for h in HOLDERS:
        balances = {asset.value: world.office.balance(f"{h.member_id}:{asset.value}").posted
                    for asset in (Asset.CONSUMPTION_POINTS, Asset.BANK_POINTS,
                                  Asset.CREDIT_POINTS)}
        cny = world.office.balance(f"{h.member_id}:cny").posted
        with world.reader.present(world.cards[h.member_id]) as (_, chip2):
            from host.points import PointsClient

            card = {p.label: v for p, v in PointsClient(chip2).balances().items()}
        world.story.event(
            f"{h.member_id:<6} ledger: consumption {balances['consumption_points']}, bank "
            f"{balances['bank_points']}, credit {balances['credit_points']}, money "
            f"{format_cny(cny)} | card: consumption {card['consumption']}, bank "
            f"{card['bank']}, credit {card['credit']}",
            holder=h.member_id, ledger=balances, money_fen=cny, card=card)
    for mid, *_ in MERCHANTS:
        credit = world.office.balance(f"{mid}:merchant_credit_points").posted
        money = world.office.balance(f"{mid}:cny").posted
        world.story.event(f"{mid:<12} merchant credit points {credit}, money {format_cny(money)}",
                          merchant=mid, merchant_credit_points=credit, money_fen=money)
    premium = world.office.balance(f"{INSURER}:cny").posted
    world.story.event(f"{INSURER} received premiums of {format_cny(premium)}",
                      insurer=INSURER, money_fen=premium)


def _prepaid(world: World) -> None:
    """F13–F16: a prepaid purchase split into insured sub-cards, spent as one card, the
    merchant's closure and a claim from the live balances (docs/prepaid.md)."""
    world.story.step("Prepaid cards, insured card by card", "The bookstore sells a prepaid "
                     "membership under a 5,000 CNY per-card cap: three sub-cards under one "
                     "network account, each insured; a payment draws across them; the "
                     "bookstore closes and the insurer pays each card's live principal.")
    prepaid, evening = PrepaidOffice(world.office.db), world.now
    prepaid.add_program(Program("books-club", "bookstore", ProgramKind.BONUS, 500_000,
                                INSURER, premium_bp=80), at=evening)
    bought = prepaid.issue("club-zhang", "books-club", "zhang", 1_234_567, at=evening)
    for card in bought["cards"]:
        world.story.event(f"card {card['card']}  {format_cny(card['value'])}  policy "
                          f"{card['policy']} premium {format_cny(card['premium'])}", **card)
    paid = prepaid.pay("club-pay-1", bought["account"], 620_000, at=evening)
    world.story.event(f"zhang pays {format_cny(paid['charged'])} from "
                      f"{len(paid['draws'])} cards; left {format_cny(paid['balance'])}",
                      draws=paid["draws"])
    ok = prepaid.reconcile(DAY)["ok"]
    world.story.event(f"reconciliation of {DAY}: cards = custody = live records: {ok}", ok=ok)
    closed = evening + dt.timedelta(days=1)
    prepaid.open_claim("club-closure", "bookstore", Trigger.CLOSURE, trigger_at=closed,
                       at=closed)
    prepaid.review_claim("club-closure", approve=True, note="closed", at=closed)
    claim = prepaid.pay_claim("club-closure", at=closed)
    world.story.event(f"claim paid per card: {format_cny(claim['payout'])} to zhang for "
                      f"{claim['cards']} cards", payout_fen=claim["payout"])


def _settlement_centre(world: World) -> None:
    """F25 in brief (docs/settlement.md walks a whole month): han's three tiers, an order
    held and released by code on delivery, the settlement account topped up to its cap."""
    from host.backoffice.centre import (
        Condition,
        OrderRequest,
        ReleaseBy,
        SettlementCentre,
        SimulatedBank,
        TierSettings,
    )

    world.story.step("The settlement centre", "han's money in three tiers (F25): a virtual "
                     "account with a credit line, a settlement account capped at CNY 5,000.00 "
                     "and topped up from the bank below CNY 2,000.00, the bank behind it. An "
                     "order is held until the courier enters the code han was given.")
    world.at(12, 0, DAY + dt.timedelta(days=1))
    centre = SettlementCentre(world.office.db)
    SimulatedBank(centre.ledger).open_account("BANK-HAN", deposit=2_000_000, at=world.now)
    centre.open_account("han", TierSettings(500_000, 200_000, 400_000), bank_account="BANK-HAN",
                        addresses=["5 River Road"], at=world.now)
    _, code, _ = centre.place_order(OrderRequest(
        "han-order-1", "han", "bookstore", 350_000, Condition.CODE, "5 River Road",
        world.now + dt.timedelta(days=14), mcc=5942), at=world.now)
    world.story.event("han orders CNY 3,500.00 of books: held, release code given to han")
    outcome = centre.release("han-order-1", "delivery", by=ReleaseBy.CODE, code=code,
                             at=world.now + dt.timedelta(days=2))
    shown = centre.balances("han")
    world.story.event(f"delivered, code entered: {format_cny(outcome.moved)} to the bookstore; "
                      f"the settlement account repaid {format_cny(outcome.repaid)} and was "
                      f"topped up to {format_cny(shown['settlement']['posted'])}",
                      **{k: v for k, v in shown.items() if k != "holder"})


#: the day's portal accounts: login, member, role, password (a demo's: printed on purpose)
PORTAL_ACCOUNTS = (("zhang", "zhang", "consumer", "zhang-demo-pw"),
                   ("supermarket", "supermarket", "merchant", "supermarket-demo-pw"),
                   (INSURER, INSURER, "insurer", "insurer-demo-pw"),
                   ("operator", "alliance", "operator", "operator-demo-pw"))


def _portal(world: World) -> None:
    """A portal account for a holder, a merchant, the insurer and the operator, and the
    command that shows the day's ledger in a browser."""
    from host.backoffice.database import sqlite_file
    from host.portal.auth import Accounts, PortalRole
    from host.portal.schema import create_portal_schema

    world.story.step("The portal", "Holders, merchants, insurers and the alliance's operator "
                     "log in to see the day: points per purse and why they moved, the credit "
                     "line and its reasons, the merchant's clearing and settlement, premiums, "
                     "notices waiting (docs/portal.md). One account each; serve the day's "
                     "ledger with the command below and open the address.")
    create_portal_schema(world.office.db)
    accounts = Accounts(world.office.db, clock=world.clock)
    for login, member, role, password in PORTAL_ACCOUNTS:
        accounts.add(login, member, PortalRole(role), password)
        world.story.event(f"{role:<9} login {login:<12} password {password}",
                          login=login, member=member, role=role)
    ledger = sqlite_file(world.office.db.url)
    world.story.event(f"dualcard portal serve --db {ledger} --plain\n"
                      "then open http://127.0.0.1:8080/portal/",
                      command=f"dualcard portal serve --db {ledger} --plain",
                      address="http://127.0.0.1:8080/portal/")


def run_demo(reader: str = "sim", out: str | Path | None = None,
             echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole day; the story as one JSON-ready document."""
    if reader not in ("sim", "vpcd"):
        raise DemoError(f"--reader is sim or vpcd, not {reader!r}")
    directory = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="dualcard-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    story = Story(echo)
    card_reader = Reader(reader)
    card_reader.start()
    world = _build_world(story, card_reader, directory)
    try:
        with _served(world, directory) as service:
            _day(world)
            order_from_home(world, service, directory, SHOP_MERCHANT, _terminal_of(SHOP_MERCHANT))
            _portal(world)
    finally:
        for terminal in world.terminals.values():
            terminal.journal.close()
        world.office.close()
    return {"reader": reader, "directory": str(directory), "business_day": DAY.isoformat(),
            **story.as_dict()}


def _day(world: World) -> None:
    _morning(world)
    world.story.step("Midday: batches uploaded", "Terminals upload their journals as "
                     "batches; the back office verifies every TAC and cryptogram, then posts "
                     "the points. A batch sent twice is cleared once (idempotent batch id); a "
                     "terminal that uploads another merchant's records is refused (docs/trust.md).")
    world.at(12, 30)
    _upload(world, ["supermarket", "electronics"], again=True)
    _hostile_upload(world, thief="electronics", victim="supermarket")
    _afternoon(world)
    _settle(world)
    _credit_line(world)
    _statements(world)
    _prepaid(world)
    _settlement_centre(world)


def _terminal_of(member_id: str) -> str:
    return next(tid for mid, _, tid in TERMINALS if mid == member_id)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--reader", choices=("sim", "vpcd"), default="sim",
                        help="cards in process (sim) or served through pcscd + vpcd")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--out", default=None,
                        help="directory for the ledger and journals (default: a temp dir)")
    args = parser.parse_args(argv)
    echo = None if args.json else print
    try:
        document = run_demo(args.reader, args.out, echo)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(document, indent=2, default=str))
    else:
        print(f"\nDone. Ledger, terminal journals and the service's log are in "
              f"{document['directory']}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
