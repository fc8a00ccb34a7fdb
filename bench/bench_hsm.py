"""Master keys in a PKCS#11 token (SoftHSM2) beside the sealed key file, in one run.

- **TAC checks/s**: purse records (loads and spends of distinct cards, AES suite) verified by
  the back office's verifier: the software verifier with per-card keys (today's clearing
  path), the provider verifier over the key file's masters, and the same over a token
  (each card's DTK derived inside it, the TAC computed inside it, the key destroyed).
- **Clearing records/s**: whole batches (a sale and the load it earns per card: a cryptogram
  and a TAC verified, both records posted to SQLite) with each provider's verifier.
- **Online authorisations/s**: the chip-1 issuer answering an ARQC (checked, then an ARPC
  made: method 2, 3DES suite, CVN 12) for requests of distinct cards, in process: the
  issuer with the key file's values, the token-backed issuer from one thread, and the same
  from four threads at once (they share the module's lock: docs/hsm.md, section 4).
- **Card key sets/s**: every per-card key a card's personalisation needs from the masters
  (the security domain's ENC, MAC and DEK on each chip by KDF3, DLK, DPK, DTK of three
  purses, ICC master keys of two applications) derived where the masters are, their KCVs
  computed there: the token's share of a personalisation (whole personalisations with a
  token: bench/bench_perso_hsm.py).

    .venv/bin/python bench/bench_hsm.py                  # 2,000 records, 200 cards, 3 runs
    .venv/bin/python bench/bench_hsm.py --records 5000 --cards 500 --runs 5

A fresh SoftHSM2 token is made in a temporary directory. Prints the median of the runs;
figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.diversify import KeyType
from apdu_specs.payment.cryptogram import IssuerMasterKeys
from host.backoffice import Agreement, Asset, BackOffice, Member, MemberKind, Ratio, Rounding
from host.backoffice.sample_cards import SampleTerminal
from host.backoffice.verifier import SoftwareCardVerifier
from host.hsm import FileKeyProvider, KeyProvider
from host.hsm.issuer import ProviderIssuer
from host.hsm.schemes import icc_master_key, kdf3_card_key, purse_card_key
from host.hsm.verifier import ProviderCardVerifier
from host.keystore import KeyFile, MasterKey
from host.payment.issuer import AuthorisationRequest, Issuer
from host.records.batch import PaymentRecord, PurseRecord
from host.testing.hsm_cards import APPLICATIONS, MasterKeyedCards
from host.testing.softhsm import USER_PIN, fresh_token

T0 = datetime(2025, 3, 14, 1, 0, tzinfo=UTC)
TERMINAL = "00000000B001"
MASTERS = ("purse_load", "purse_purchase", "purse_tac", "emv_ac", "isd")
#: the key diversification data of each chip's security domain (chip number in the last byte)
KDDS = (bytes(9) + b"\x01", bytes(9) + b"\x02")
KEYS_PER_CARD = len(KDDS) * len(KeyType) + 3 * len(Purse) + len(APPLICATIONS)


def _records(cards: MasterKeyedCards, count: int, card_count: int) -> list[PurseRecord]:
    terminal = SampleTerminal("0000000000A1", cards)
    ids = [f"62{n:014d}" for n in range(1, card_count + 1)]
    made = 0
    while made < count:
        card = ids[made % card_count]
        at = T0 + timedelta(seconds=made)
        if (made // card_count) % 3 == 2:
            terminal.spend(card, 1, at)
        else:
            terminal.load(card, 10, 1_000, at)
        made += 1
    return [r for r in terminal.close_batch("B").records if isinstance(r, PurseRecord)]


def _rate(work: Callable[[], int], runs: int) -> float:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        done = work()
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def _tac_checks(verifier: object, records: list[PurseRecord]) -> Callable[[], int]:
    def work() -> int:
        assert all(verifier.verify_purse_tac(r) for r in records)  # type: ignore[attr-defined]
        return len(records)
    return work


def _office(directory: Path, name: str, verifier: object, ids: list[str]) -> BackOffice:
    office = BackOffice(f"sqlite:///{directory / name}.sqlite3", verifier=verifier)  # type: ignore[arg-type]
    office.init(at=T0)
    office.add_member(Member("BM1", MemberKind.MERCHANT, "Bench merchant", T0,
                             two_way=Ratio(1, 10), terminals=(TERMINAL,)), at=T0)
    office.add_agreement(Agreement("BA1", "BM1", "std", Asset.CONSUMPTION_POINTS, 1, 100,
                                   Rounding.DOWN, T0), at=T0)
    office.add_members([Member(f"BC{i:06d}", MemberKind.CONSUMER, "bench", T0, card_id=card,
                               consumer_group="std") for i, card in enumerate(ids)], at=T0)
    return office


def _clearing(office: BackOffice, cards: MasterKeyedCards, ids: list[str], size: int
              ) -> Callable[[], int]:
    """Whole batches cleared (every TAC and cryptogram verified, every record posted)."""
    terminal = SampleTerminal(TERMINAL, cards)
    batches = iter(range(1_000_000))

    def work() -> int:
        at = T0 + timedelta(hours=1)
        for i in range(size // 2):
            card = ids[i % len(ids)]
            terminal.load(card, 10, 1_000, at, payment_ref=terminal.pay(card, 1_000, at))
        batch = terminal.close_batch(f"b{next(batches)}")
        result = office.clear(batch, at=at)
        assert result.status == "created"
        return len(batch.records)
    return work


def _requests(count: int, card_count: int) -> tuple[bytes, list[AuthorisationRequest]]:
    """ARQCs of distinct cards of a 3DES issuer: its AC master key and the requests."""
    cards = MasterKeyedCards("bench-online", Algorithm.TDES)
    terminal = SampleTerminal(TERMINAL, cards)
    for n in range(count):
        terminal.pay(f"62{n % card_count + 1:014d}", 1_000 + n, T0 + timedelta(seconds=n))
    requests = [AuthorisationRequest(r.card_id, APPLICATIONS[r.application], r.atc, r.arqc,
                                     r.cdol1, r.aip, r.iad, r.amount_fen, 156)
                for r in terminal.close_batch("A").records if isinstance(r, PaymentRecord)]
    return cards.masters["emv_ac"], requests


def _authorisations(issuer: Issuer, requests: list[AuthorisationRequest], threads: int = 1
                    ) -> Callable[[], int]:
    def answer(chunk: list[AuthorisationRequest]) -> None:
        assert all(issuer.authorise(r).approved for r in chunk)

    def work() -> int:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(answer, [requests[i::threads] for i in range(threads)]))
        return len(requests)
    return work


def _card_key_sets(provider: KeyProvider, card_count: int) -> Callable[[], int]:
    masters = {name: provider.key(name) for name in MASTERS}

    def work() -> int:
        for n in range(1, card_count + 1):
            card = f"62{n:014d}"
            for kdd in KDDS:
                for key_type in KeyType:
                    with kdf3_card_key(provider, masters["isd"], kdd[:4] + n.to_bytes(6, "big"),
                                       key_type) as key:
                        provider.kcv(key)
            for name in ("purse_load", "purse_purchase", "purse_tac"):
                for purse in Purse:
                    with purse_card_key(provider, masters[name], card, purse) as key:
                        provider.kcv(key)
            for psn in APPLICATIONS.values():
                with icc_master_key(provider, masters["emv_ac"], card, psn) as key:
                    provider.kcv(key)
        return card_count
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cards = MasterKeyedCards()
    masters = {**cards.masters, "purse_load": bytes(range(16)), "purse_purchase": bytes(16),
               "isd": bytes(range(16, 32))}
    records = _records(cards, args.records, args.cards)
    ids = sorted({r.card_id for r in records})
    register = cards.register(ids)
    file = FileKeyProvider(KeyFile("AES", {n: MasterKey(n, Algorithm.AES, v)
                                          for n, v in masters.items()}))
    imk, requests = _requests(args.records // 4, args.cards)
    with tempfile.TemporaryDirectory() as tmp:
        from host.hsm.ceremony import import_key
        from host.hsm.token import TokenKeyProvider

        uri = fresh_token(Path(tmp))
        with TokenKeyProvider.open(uri, USER_PIN, rw=True) as token:
            for name, value in masters.items():
                import_key(token, MasterKey(name, Algorithm.AES, value))
            import_key(token, MasterKey("emv_ac_3des", Algorithm.TDES, imk))
            online = ProviderIssuer(token, master="emv_ac_3des")
            rows = [
                ("TAC checks/s, software verifier (per-card keys)",
                 _rate(_tac_checks(SoftwareCardVerifier(cards.key_store(ids)), records), args.runs)),
                ("TAC checks/s, key file masters",
                 _rate(_tac_checks(ProviderCardVerifier(file), records), args.runs)),
                ("TAC checks/s, token masters",
                 _rate(_tac_checks(ProviderCardVerifier(token), records), args.runs)),
                ("clearing records/s, key file masters", _rate(_clearing(
                    _office(Path(tmp), "file", ProviderCardVerifier(file, register), ids),
                    cards, ids, args.records), args.runs)),
                ("clearing records/s, token masters", _rate(_clearing(
                    _office(Path(tmp), "token", ProviderCardVerifier(token, register), ids),
                    cards, ids, args.records), args.runs)),
                ("card key sets/s, key file", _rate(_card_key_sets(file, args.cards), args.runs)),
                ("card key sets/s, token", _rate(_card_key_sets(token, args.cards), args.runs)),
                ("online authorisations/s, key file", _rate(_authorisations(
                    Issuer(IssuerMasterKeys(imk, imk, imk)), requests), args.runs)),
                ("online authorisations/s, token", _rate(_authorisations(online, requests),
                                                         args.runs)),
                ("online authorisations/s, token, 4 threads", _rate(_authorisations(
                    online, requests, threads=4), args.runs)),
            ]
    print(f"{len(records)} purse records of {len(ids)} cards; {args.cards} card key sets "
          f"({KEYS_PER_CARD} keys each); {len(requests)} online authorisations; median of "
          f"{args.runs} runs")
    for label, rate in rows:
        print(f"  {label:<52} {rate:>10,.0f}")
    print(f"  token / key file: TAC checks {rows[2][1] / rows[1][1]:.0%}, clearing "
          f"{rows[4][1] / rows[3][1]:.0%}, card key sets {rows[6][1] / rows[5][1]:.0%}, "
          f"online authorisations {rows[8][1] / rows[7][1]:.0%}")


if __name__ == "__main__":
    main()
