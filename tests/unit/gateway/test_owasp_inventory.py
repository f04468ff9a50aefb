"""API9:2023 Improper inventory management: the OpenAPI document is the inventory, and it is complete and exact.

Every route the gateway's app serves (the public routes forwarded upstream, the authorization server's own routes,
the operations endpoints) is in the document with its method, and the document names nothing the app does not
serve. The only routes left out of the document are a fixed list (the document itself, the interactive docs and
the dashboard's page), so a new route cannot hide by being left out of the schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount
from tests.support.gateway import LOCAL_SPEC, SPEC

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

UNDOCUMENTED = {
    ("GET", "/openapi.json"),  # the inventory itself
    ("GET", "/docs"),  # Swagger UI over the inventory
    ("GET", "/docs/oauth2-redirect"),  # Swagger UI's helper page
    ("GET", "/"),  # a redirect to the dashboard page
}
"""The routes that may be served without an operation in the document: pages, not API operations."""
UNDOCUMENTED_MOUNTS = {"/dashboard"}
"""Static files (the dashboard page); every call it makes goes through documented routes with the user's token."""


def _app() -> FastAPI:
    return create_app(GatewaySettings(rate_limit_enabled=False))


def _served(app: FastAPI) -> tuple[set[tuple[str, str]], set[str]]:
    """What the app routes: (method, path template) of every endpoint, and the prefix of every mount. ``HEAD`` is
    left out where Starlette adds it to a ``GET`` route (it answers the same operation)."""
    routes: set[tuple[str, str]] = set()
    mounts: set[str] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            mounts.add(route.path)
            continue
        assert context.path is not None, f"a route of an unknown kind: {route!r}"
        assert context.methods, f"a route without methods: {route!r}"
        methods = set(context.methods)
        if "GET" in methods:
            methods.discard("HEAD")
        routes.update((method, context.path) for method in methods)
    return routes, mounts


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


def test_every_served_route_is_documented_and_nothing_else_is() -> None:
    app = _app()
    served, mounts = _served(app)
    documented = _documented(app.openapi())
    assert served - UNDOCUMENTED - documented == set(), "served but missing from the OpenAPI document"
    assert documented - served == set(), "in the OpenAPI document but not served"
    assert served >= UNDOCUMENTED, "the pages left out of the document are served (else this list is stale)"
    assert mounts == UNDOCUMENTED_MOUNTS, "a mount serves paths the document cannot list"


def test_the_inventory_holds_every_route_of_the_role_matrix_and_the_operations_endpoints() -> None:
    """Cross-checked against the written-out role matrix (not derived from the app), so a route dropped from both
    the app and the document still fails."""
    documented = _documented(_app().openapi())
    expected = set(SPEC) | set(LOCAL_SPEC)
    expected |= {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
    expected |= {
        ("POST", "/oauth/token"),
        ("POST", "/oauth/revoke"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/jwks.json"),
    }
    assert documented == expected


def test_the_served_document_is_the_inventory_and_every_operation_is_named_once() -> None:
    app = _app()
    with TestClient(app) as client:
        served = client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == app.openapi()
    operation_ids = [
        operation["operationId"]
        for operations in app.openapi()["paths"].values()
        for method, operation in operations.items()
        if method in HTTP_METHODS
    ]
    assert len(operation_ids) == len(set(operation_ids)), "an operationId names two operations"
