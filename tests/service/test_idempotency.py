"""The idempotency store on both databases: a key is taken once, answered from the store
after, in flight while its request is handled (taken over once its lease ran out), released
by a failure, forgotten after its retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from host.backoffice.database import Database
from host.service.idempotency import ClaimState, IdempotencyStore, request_digest
from host.service.schema import create_service_schema

NOW = dt.datetime(2025, 6, 18, 1, 0, tzinfo=dt.UTC)
A = request_digest("POST", "/v1/loads", b"{}")
B = request_digest("POST", "/v1/loads", b"{ }")


@pytest.fixture
def store(db_url: str) -> Iterator[IdempotencyStore]:
    db = Database(db_url)
    create_service_schema(db)
    yield IdempotencyStore(db, lease=dt.timedelta(seconds=60))
    db.dispose()


def test_a_key_is_taken_once_then_answered_from_the_store(store: IdempotencyStore) -> None:
    assert store.claim("T1", "k", A, now=NOW).state is ClaimState.TAKEN
    assert store.claim("T1", "k", A, now=NOW).state is ClaimState.IN_FLIGHT
    assert store.claim("T1", "k", B, now=NOW).state is ClaimState.CONFLICT
    assert store.claim("T2", "k", B, now=NOW).state is ClaimState.TAKEN  # keys are per terminal
    store.complete("T1", "k", 422, b'{"error":{}}')
    claim = store.claim("T1", "k", A, now=NOW + dt.timedelta(hours=1))
    assert (claim.state, claim.status, claim.body) == (ClaimState.ANSWERED, 422, b'{"error":{}}')


def test_an_abandoned_key_is_taken_over_once_its_lease_ran_out(store: IdempotencyStore) -> None:
    store.claim("T1", "k", A, now=NOW)
    assert store.claim("T1", "k", A, now=NOW + dt.timedelta(seconds=59)).state \
        is ClaimState.IN_FLIGHT
    later = NOW + dt.timedelta(seconds=61)
    assert store.claim("T1", "k", A, now=later).state is ClaimState.TAKEN
    assert store.claim("T1", "k", A, now=later).state is ClaimState.IN_FLIGHT  # one takes it


def test_a_released_key_is_handled_afresh_and_old_keys_are_purged(
        store: IdempotencyStore) -> None:
    store.claim("T1", "k", A, now=NOW)
    store.release("T1", "k")
    assert store.claim("T1", "k", B, now=NOW).state is ClaimState.TAKEN
    store.complete("T1", "k", 200, b"{}")
    assert store.purge(NOW + dt.timedelta(hours=23)) == 0
    assert store.purge(NOW + dt.timedelta(hours=25)) == 1
    assert store.claim("T1", "k", A, now=NOW).state is ClaimState.TAKEN
