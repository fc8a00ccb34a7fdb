"""Malformed bodies, properly signed, on every route that reads one: the door answers each
with 400, 403, 404 or 422 and a JSON error (422 naming the field), never a 500, and keeps
answering. Hypothesis drives the app in process (httpx's ASGI transport on an event loop of
the test's own, over the same app uvicorn serves); the real-socket tests are in
test_http_door.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.service.core import ServiceCore
from host.service.http_app import create_app
from host.service.http_core import HTTPCore
from host.service.schema import create_service_schema
from host.service.services import AllianceServices
from host.service.terminals import TerminalKey, register_terminal
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, START, build_office

from .conftest import POLICY
from .http_helpers import signed

pytestmark = pytest.mark.sim

TID = MERCHANT.terminal_hex
AT = START.isoformat()
_INIT = {"purse": "bank", "amount": 10, "terminal_id": TID, "key_index": 1, "balance": 0,
         "online_seq": 0, "key_version": 1, "algorithm_id": 0x80, "random": "01020304",
         "mac1": "01020304"}
_DEBIT = {"id": "T1", "type": "purchase", "card_id": SAMPLE.identity,
          "purse": "consumption_points", "amount": 10, "card_seq": 0, "date": "20250618",
          "time": "090000", "tac": "01020304", "terminal_seq": 1}
#: a plausible body per route; the fuzz breaks one part of it at a time
TEMPLATES: dict[str, dict[str, Any]] = {
    "/v1/earn-quotes": {"card_id": SAMPLE.identity, "method": "debit", "purchase_fen": 100_00,
                        "at": AT},
    "/v1/loads": {"card_id": SAMPLE.identity, "when": "2025-06-18T09:00:00", "init": _INIT,
                  "sale": {"authorisation_id": "auth-stripe-00"}},
    "/v1/loads/confirmations": {"authorization": {"card_id": SAMPLE.identity,
                                                  "when": "2025-06-18T09:00:00",
                                                  "init": _INIT, "mac2": "01020304"},
                                "tac": "01020304"},
    "/v1/redemptions": {"redemption_id": "R-1", "card_id": SAMPLE.identity,
                        "purse": "consumption", "points": 10, "at": AT, "debit": _DEBIT},
    "/v1/batches": {"format": "dualcard-terminal-batch/1", "batch_id": "B-1",
                    "terminal_id": TID, "records": [_DEBIT]},
    "/v1/scripts/delivered": {"script_ids": ["limit/1"], "at": AT},
    "/v1/stripe-authorisations": {"track2": ";6200000000000005=30122010000000000000?",
                                  "amount": 12_00, "card_id": SAMPLE.identity},
}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


class Door:
    """The app in process: each request run to its answer on the door's own loop."""

    def __init__(self, app: Any, terminal: TerminalKey) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://door")
        self.terminal = terminal

    def post(self, path: str, body: bytes) -> httpx.Response:
        headers = signed(self.terminal.key, "POST", path, body)
        return self.loop.run_until_complete(self.client.post(path, content=body,
                                                             headers=headers))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    directory = tmp_path_factory.mktemp("fuzz")
    office = build_office(directory)
    services = AllianceServices(office, payment_keys=SAMPLE.payment_keys,
                                points_keys=SAMPLE.purse_keys, bank_id="bank", policy=POLICY)
    create_service_schema(office.db)
    terminal = register_terminal(office.db, TID, at=START)
    door = Door(create_app(HTTPCore(ServiceCore(services))), terminal)
    yield door
    door.close()
    office.close()


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``doc`` a value sits."""
    found = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    doc = json.loads(json.dumps(doc))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _answered_well(response: httpx.Response) -> None:
    assert response.status_code in (200, 400, 403, 404, 409, 422), response.text
    doc = response.json()
    if response.status_code >= 400:
        error = doc["error"]
        assert error["code"] and error["message"]
        if error["code"] == "invalid_field":
            assert error["field"]


FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.mark.parametrize("path", sorted(TEMPLATES))
@FUZZ
@given(data=st.data())
def test_a_broken_field_is_named_never_a_500(door: Door, path: str, data: st.DataObject) -> None:
    template = TEMPLATES[path]
    where = data.draw(st.sampled_from(_paths(template)))
    broken = _replace(template, where, data.draw(JSON), data.draw(st.booleans()))
    _answered_well(door.post(path, json.dumps(broken).encode()))


@pytest.mark.parametrize("path", sorted(TEMPLATES))
@FUZZ
@given(body=st.binary(max_size=64) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_body_at_all_is_answered(door: Door, path: str, body: bytes) -> None:
    _answered_well(door.post(path, body))


def test_the_door_still_serves_after_the_fuzz(door: Door) -> None:
    path = "/v1/earn-quotes"
    response = door.post(path, json.dumps(TEMPLATES[path]).encode())
    assert response.status_code == 200 and response.json()["quotes"]
