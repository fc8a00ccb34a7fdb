"""``make demo``'s order from home: a personal reader bound to zhang's card refuses li's,
and zhang orders from the example shop through the online order flow (:mod:`host.shop.flow`)
over the demo's service host; the order prints at the merchant (docs/online-order.md).

Nothing here is a second flow: the issuer's records the authentication centre checks
against are written as the issuer's office writes them, then :func:`~host.shop.flow.swipe`,
:func:`~host.shop.flow.place_order` and :func:`~host.shop.flow.print_order` run as the shop
runs them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from apdu_specs.apdu import ResponseAPDU
from apdu_specs.commands.binding import READER_AUTHENTICATE
from apdu_specs.crypto.cvv import pvv
from apdu_specs.payment.binding import NONCE_LENGTH
from apdu_specs.sw import describe
from host.backoffice.addresses import DeliveryAddress, set_delivery_address
from host.backoffice.centre import SettlementCentre, SimulatedBank, TierSettings
from host.demo_service import DemoService
from host.perso import HolderRecord, NumberStore, load_profile
from host.perso.plan import PINCheck
from host.pos import format_cny
from host.reader import BindingClient, BindingIssuer, PersonalReader, ReaderKeyStore, bind
from host.reader.errors import CardNotBoundHereError
from host.service.pin_keys import register_pin_key
from host.shop import Checkout, MerchantTerminal, ShopStore, place_order, print_order, swipe
from host.shop.store import CATALOGUE
from host.slips import decode_escpos

if TYPE_CHECKING:
    from host.demo import World

__all__ = ["order_from_home"]

HOLDER, FOREIGN = "zhang", "li"
READER_ID = bytes.fromhex("5244000000000001")
ADDRESS = DeliveryAddress("8 Park Road", "200031", "Shanghai")
ORDER_ID = "WEB-0001"
_PROFILE = Path(__file__).resolve().parents[1] / "examples" / "perso" / "profile.toml"
_MARK = re.compile(r"\[[a-z]+(?: \d+)*\]")


def order_from_home(world: World, service: DemoService, out: Path, merchant_id: str,
                    terminal_id: str) -> None:
    """The step: bind, refuse a foreign card, order from ``merchant_id``'s web shop (its
    server the terminal ``terminal_id``), print."""
    world.story.step("A personal reader and an order from home", "zhang's card is bound to "
                     "zhang's personal reader (F21): the card answers only that reader, after "
                     "both prove the binding key. zhang orders from the example web shop "
                     "(F24): swipe at the reader, the authentication centre checks PIN, "
                     "address and credit, the gateway holds the amount until zhang accepts the "
                     "goods; the order prints at the merchant (F26).")
    reader = PersonalReader(ReaderKeyStore.create(out / "reader.json", READER_ID))
    with _chip1(world, HOLDER) as client:
        _bind(world, client, reader)
    with _chip1(world, FOREIGN) as client:
        _foreign_card(world, client, reader)
    zpk = _issuer_records(world, terminal_id)
    terminal = MerchantTerminal(service.http_url, terminal_id, service.keys[terminal_id],
                                tls=service.client_tls(terminal_id), clock=world.clock)
    with _chip1(world, HOLDER) as client:
        _order(world, merchant_id, terminal, client, reader, zpk, out)


@contextmanager
def _chip1(world: World, member: str) -> Iterator[BindingClient]:
    """The member's card in the personal reader (chip 1, where the binding lives)."""
    with world.reader.present(world.cards[member]) as (chip1, _):
        yield BindingClient(chip1)


def _bind(world: World, client: BindingClient, reader: PersonalReader) -> None:
    """The bank branch binds zhang's debit application to a new reader (its key store a file)."""
    aid = world.data[HOLDER].debit.application_aid
    card = bind(client, aid, BindingIssuer(world.keys.payment.emv), reader)
    world.story.event(f"zhang's card {card.masked} bound to reader {READER_ID.hex().upper()} "
                      f"(key store {reader.keys.path})", card=card.masked,
                      reader=READER_ID.hex().upper())


def _foreign_card(world: World, client: BindingClient, reader: PersonalReader) -> None:
    """li's card in zhang's reader: the reader holds no key for it, and the card itself
    answers the reader's authentication with a status word."""
    aid = world.data[FOREIGN].debit.application_aid
    try:
        reader.open(client, aid)
    except CardNotBoundHereError as exc:
        refusal = str(exc)
    else:
        raise RuntimeError("a reader opened a card it is not bound to")
    command = READER_AUTHENTICATE.build(data={"reader_id": READER_ID,
                                              "reader_nonce": os.urandom(NONCE_LENGTH)})
    sw = ResponseAPDU.parse(client.transport.transmit(command.encode())).sw
    world.story.event(f"li's card in zhang's reader: refused ({refusal}); the card answers "
                      f"READER AUTHENTICATE with {sw:04X} ({describe(sw)}: in personal mode, this "
                      "card is not bound to this reader)",
                      card=FOREIGN, sw=f"{sw:04X}", meaning=describe(sw), refusal=refusal)


def _issuer_records(world: World, terminal_id: str) -> bytes:
    """What the authentication centre checks against: the PVV on the issuer's card record,
    the delivery address, the credit line (opened with the alliance); the shop's terminal
    gets a ZPK (returned: the shop's server enciphers PINs with it); zhang's tiers at the
    settlement centre."""
    data, now = world.data[HOLDER], world.now
    pin_check = PINCheck("1", pvv(world.keys.payment.pvk, data.debit.pan, "1", _pin(world)))
    with NumberStore(world.office.db.url) as store:
        store.allocate(load_profile(_PROFILE), [HolderRecord(0, data.debit.cardholder_name, HOLDER,
                       pan=data.debit.pan, card_id=data.identity)], "demo")
        store.mark_issued(data.identity, pin_check)
    set_delivery_address(world.office.db, HOLDER, ADDRESS, at=now)
    centre = SettlementCentre(world.office.db)
    SimulatedBank(centre.ledger).open_account("BK-zhang", deposit=2_000_000, at=now)
    centre.open_account(HOLDER, TierSettings(500_000, 200_000, 400_000),
                        bank_account="BK-zhang", addresses=[ADDRESS.street], at=now)
    return register_pin_key(world.office.db, terminal_id, at=now).key


def _pin(world: World) -> str:
    """The PIN zhang's card was issued with (typed on the reader's PIN pad)."""
    pin = world.data[HOLDER].debit.pin
    assert pin is not None, "the demo's cards are issued with a PIN"
    return pin


def _order(world: World, merchant_id: str, terminal: MerchantTerminal, client: BindingClient,
           reader: PersonalReader, zpk: bytes, out: Path) -> None:
    """Log in, swipe, place the order through the flow, print it at the merchant."""
    store = ShopStore(out / "shop")
    data = world.data[HOLDER]
    store.set_account(HOLDER, data.identity, "张三 ZHANG SAN", "green-tea-2030")
    items = (CATALOGUE["tea"], CATALOGUE["cooker"])
    checkout = Checkout(ORDER_ID, store.login(HOLDER, "green-tea-2030"), items, ADDRESS,
                        expires_at=world.now + dt.timedelta(days=14))
    card = swipe(reader, client, data.debit.application_aid, _pin(world), zpk)
    placed = place_order(terminal, store, merchant_id, checkout, card)
    state = placed.payment["state"]
    world.story.event(f"zhang logs in, swipes card {card.pan[:6]}…{card.pan[-4:]}, types the "
                      f"PIN on the reader; PIN, address and credit pass: order {ORDER_ID} of "
                      f"{format_cny(checkout.amount)} {state} for {merchant_id} until "
                      "acceptance", order=ORDER_ID, amount=checkout.amount, state=state,
                      held=placed.payment["held"])
    escpos, pdf = print_order(terminal, store, ORDER_ID, out / "printed", width=42)
    lines = [_MARK.sub("", line).rstrip() for line in decode_escpos(escpos.read_bytes())]
    shown = [line for line in lines if line.strip()]
    world.story.event("printed at the merchant (ESC/POS, decoded):\n" +
                      "\n".join(f"  | {line}" for line in shown) + f"\nPDF: {pdf}",
                      slip=shown, escpos=str(escpos), escpos_bytes=escpos.stat().st_size,
                      pdf=str(pdf))
