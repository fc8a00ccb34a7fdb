"""The hand-written OpenAPI description and the app's routes are the same set: every route
is described, every described path and method is a route, under the operation's own name;
every reference in the document resolves; the app serves the document it holds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.routing import Route

from host.service.http_app import create_app
from host.service.openapi import openapi_document
from host.service.operations import OPERATIONS

from .conftest import Host

pytestmark = pytest.mark.sim

_METHODS = {"get", "post", "put", "patch", "delete"}


def _app_routes(host: Host) -> dict[tuple[str, str], str]:
    from host.service.http_core import HTTPCore

    app = create_app(HTTPCore(host.core))
    routes = {}
    for route in app.routes:
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            routes[(route.path, method.lower())] = route.name
    return routes


def _documented() -> dict[tuple[str, str], str]:
    paths = openapi_document()["paths"]
    return {(path, method): operation["operationId"]
            for path, item in paths.items() for method, operation in item.items()
            if method in _METHODS}


def test_every_route_is_documented_and_every_documented_route_exists(
        sqlite_host: Host) -> None:
    assert _app_routes(sqlite_host) == _documented()


def test_the_operations_are_the_signed_routes() -> None:
    documented = _documented()
    for op in OPERATIONS:
        assert documented[(op.path, op.method.lower())] == op.name
        names = {p["name"] for p in openapi_document()["paths"][op.path][op.method.lower()]
                 ["parameters"]}
        assert {"Dualcard-Terminal", "Dualcard-Timestamp", "Idempotency-Key",
                "Dualcard-MAC"} <= names


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)] + (
            [value["$ref"]] if isinstance(value.get("$ref"), str) else [])
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_every_reference_resolves() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    for ref in _refs(document):
        assert ref.startswith("#/")
        node: Any = document
        for step in ref[2:].split("/"):
            node = node[step]  # a KeyError names the broken reference


def test_the_app_serves_its_description(sqlite_service: Host) -> None:
    served = httpx.get(f"{sqlite_service.http_url}/v1/openapi.json")
    assert served.status_code == 200 and served.json() == openapi_document()
