"""CREDIT FOR LOAD and DEBIT FOR PURCHASE sent with a wrong Le, then re-sent as asked.

The card answers 6Cxx (the exact length) and holds the command; the re-send with that Le
gets the answer, and the movement happens exactly once: balance, sequence number and log
entry move once, the TAC (and a purchase's MAC2) check. A terminal whose transport
re-sends by itself (T0Transport) sees nothing of it. Tearing the card at any point of the
exchange leaves the purse as before or as after, and GET TRANSACTION PROVE says which.
"""

from __future__ import annotations

import pytest

from apdu_specs.commands.purse_data import PURSE_AID, Purse
from apdu_specs.sw import CardError
from host.points import PointsClient, TransactionInterrupted, verify_tac
from host.testing import tear_sweep
from host.transport.sim import SimTransport
from host.transport.t0 import T0Transport
from simulator.card import SimulatedCard
from tests.wrong_le import Exchanges, WrongLe

from .purse_helpers import IDENTITY, WHEN, actors, connect, issuer_keys, make_card, purse_memory

PURSE = Purse.BANK
INS = {"load": 0x52, "purchase": 0x54}
ANSWER = {"load": 4, "purchase": 8}  # TAC; TAC ‖ MAC2
AMOUNT = {"load": 70, "purchase": -30}


def _card_with_points() -> SimulatedCard:
    card = make_card()  # deterministic card random: every run below is reproducible
    issuer, _ = actors()
    connect(card).load(PURSE, 500, issuer, terminal_id=bytes(6), when=WHEN)
    card.chip2.power_on()
    return card


def _counters(card: SimulatedCard) -> tuple[int, int, int, int]:
    """Committed balance, online and offline sequence numbers, log entries ever written."""
    stored = purse_memory(card)
    prefix = f"app/{PURSE_AID.hex().upper()}/purse{PURSE.value}/"
    return tuple(int(stored.get(prefix + name, 0))  # type: ignore[return-value]
                 for name in ("balance", "online", "offline", "log/count"))


def _moved(before: tuple[int, int, int, int], kind: str) -> tuple[int, int, int, int]:
    balance, online, offline, written = before
    return (balance + AMOUNT[kind], online + (kind == "load"), offline + (kind == "purchase"),
            written + 1)


def _check_logged(client: PointsClient, tac: bytes) -> None:
    record = client.read_log(PURSE)[0]
    assert record.tac == tac
    assert verify_tac(IDENTITY, record, tac_master_key=issuer_keys().tac_master,
                      algorithm=issuer_keys().algorithm)


@pytest.mark.parametrize("kind", ["load", "purchase"])
@pytest.mark.parametrize("le", [1, 3])
def test_the_resend_with_the_asked_le_moves_exactly_once(kind: str, le: int) -> None:
    card = _card_with_points()
    link = WrongLe(SimTransport(card.chip2, "sim:test#chip2"), INS[kind], le)
    link.connect()
    client, (issuer, sam) = PointsClient(link), actors()
    client.select()
    before = _counters(card)
    if kind == "load":
        init = client.initialize_for_load(PURSE, 70, sam.terminal_id,
                                          issuer.key_index(IDENTITY, PURSE))
        auth = issuer.authorize(IDENTITY, init, WHEN)
        complete = lambda: client.credit_for_load(auth.time_bytes, auth.mac2)  # noqa: E731
    else:
        init = client.initialize_for_purchase(PURSE, 30, sam.terminal_id,
                                              sam.key_index(IDENTITY, PURSE))
        auth = sam.authorize_purchase(IDENTITY, init, WHEN)
        complete = lambda: client.debit_for_purchase(  # noqa: E731
            auth.terminal_seq, auth.time_bytes, auth.mac1)
    with pytest.raises(CardError) as wrong:
        complete()
    assert wrong.value.sw == 0x6C00 | ANSWER[kind]
    assert _counters(card) == before  # held, nothing durable
    answer = complete()  # the very same command, with the Le the card asked for
    if kind == "load":
        tac = answer
        issuer.confirm(auth, tac)
    else:
        tac, mac2 = answer
        sam.verify_mac2(mac2)
    assert _counters(card) == _moved(before, kind)
    _check_logged(client, tac)
    with pytest.raises(CardError) as again:  # the session was spent once, by this movement
        complete()
    assert again.value.sw == 0x6985
    assert _counters(card) == _moved(before, kind)


def _move(client: PointsClient, kind: str, actors_=None):  # type: ignore[no-untyped-def]
    issuer, sam = actors_ or actors()
    if kind == "load":
        return client.load(PURSE, 70, issuer, terminal_id=sam.terminal_id, when=WHEN)
    return client.purchase(PURSE, 30, sam, when=WHEN)


@pytest.mark.parametrize("kind", ["load", "purchase"])
def test_a_transport_that_resends_on_6cxx_completes_the_movement(kind: str) -> None:
    card = _card_with_points()
    seen = Exchanges(SimTransport(card.chip2, "sim:test#chip2"))
    link = WrongLe(T0Transport(seen), INS[kind], 2)
    link.connect()
    client = PointsClient(link)
    before = _counters(card)
    record = _move(client, kind)  # the TAC (and a purchase's MAC2) checked by the host
    completions = [sw for ins, sw in seen.seen if ins == INS[kind]]
    assert completions == [0x6C00 | ANSWER[kind], 0x9000]
    assert _counters(card) == _moved(before, kind)
    _check_logged(client, record.tac)


@pytest.mark.parametrize("kind", ["load", "purchase"])
def test_torn_anywhere_in_the_wrong_le_exchange(kind: str) -> None:
    reference = _card_with_points()
    before = _counters(reference)
    interrupted: dict[int, tuple] = {}

    def action(card: SimulatedCard) -> None:
        link = WrongLe(T0Transport(SimTransport(card.chip2, "sim:test#chip2")),
                           INS[kind], 1)
        link.connect()
        issuer, sam = actors()
        try:
            _move(PointsClient(link), kind, (issuer, sam))
        except TransactionInterrupted as exc:
            interrupted[id(card)] = (exc.pending, issuer if kind == "load" else sam)
            raise

    runs = list(tear_sweep(lambda: _card_with_points(), chip=2, action=action))
    assert runs[0].after_writes == 0 and not runs[-1].torn and len(runs) >= 5
    for run in runs:
        after = _counters(run.card)
        assert after in (before, _moved(before, kind)), f"tear point {run.after_writes}"
        happened = after != before
        client = connect(run.card)
        assert run.torn == (id(run.card) in interrupted)
        if run.torn:
            pending, actor = interrupted[id(run.card)]
            recover = client.recover_load if kind == "load" else client.recover_purchase
            record = recover(pending, actor)
            assert (record is not None) == happened, f"tear point {run.after_writes}"
        assert happened == (not run.torn or run.after_writes == len(runs) - 2)
        again = _move(client, kind)  # the purse carries on without reusing a sequence number
        assert _counters(run.card) == _moved(after, kind) and again.tac
