"""Cards, readers and an issuer for the personal reader tests."""

from __future__ import annotations

from pathlib import Path

from apdu_specs.payment.ac_type import ACType
from host.payment.client import PaymentClient
from host.payment.terminal import build_dol
from host.reader import BindingClient, BindingIssuer, PersonalReader, ReaderKeyStore
from simulator.card import SimulatedCard
from tests.payment.cards import DEBIT, VECTOR_IMK, chip1, personalised_card

AID = DEBIT.application_aid
ISSUER = BindingIssuer(VECTOR_IMK)
READER_A = bytes.fromhex("5244000000000001")
READER_B = bytes.fromhex("5244000000000002")
VALUES = {0x9F02: (100).to_bytes(6, "big"), 0x5F2A: b"\x01\x56", 0x9F1A: b"\x01\x56",
          0x9F37: b"\x0a\x0b\x0c\x0d", 0x8A: b"00"}


def reader(reader_id: bytes = READER_A, path: Path | None = None) -> PersonalReader:
    store = ReaderKeyStore(reader_id) if path is None else ReaderKeyStore.create(path, reader_id)
    return PersonalReader(store)


def client(card: SimulatedCard) -> BindingClient:
    return BindingClient(chip1(card))


def fresh_card() -> SimulatedCard:
    return personalised_card()


def pay(binding: BindingClient) -> ACType:
    """A transaction in the selection the reader opened: GPO, records, GENERATE AC (TC)."""
    payment: PaymentClient = binding.payment
    assert payment.fci is not None
    options = payment.get_processing_options(build_dol(payment.fci.pdol, VALUES))
    data = payment.read_application_data(options.afl)
    return payment.generate_ac(ACType.ARQC, build_dol(data.cdol1, VALUES)).kind
