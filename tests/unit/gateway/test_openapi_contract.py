"""The public OpenAPI says what the API enforces, and links its operations.

Drift check: every bound the command and query services enforce on a parameter or a body field (lengths, patterns,
minimum and maximum) is stated, identically, by the gateway's document; the document's links name real operations
and parameters, so the fuzz tier's stateful phase can follow them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI

from eventledger_command.api.admin import router as admin_router
from eventledger_command.api.audit import router as audit_router
from eventledger_command.api.proofs import router as proofs_router
from eventledger_command.api.routes import router as command_router
from eventledger_events.bounds import MAX_INT64
from eventledger_gateway.apidoc import LINKS
from eventledger_gateway.app import create_app
from eventledger_gateway.routetable import ROUTES
from eventledger_query.api.routes import router as query_router
from eventledger_runtime.settings import GatewaySettings

pytestmark = pytest.mark.unit

CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern")


def _document(*routers: Any) -> dict[str, Any]:
    app = FastAPI()
    for router in routers:
        app.include_router(router)
    return app.openapi()


PUBLIC = create_app(GatewaySettings(rate_limit_enabled=False)).openapi()
UPSTREAM = {
    "command": _document(command_router, admin_router),
    "audit": _document(audit_router, proofs_router),
    "query": _document(query_router),
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _bounds(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The constraints of ``schema``, through references and an optional (``anyOf`` with null) wrapper."""
    schema = _resolve(document, schema)
    variants = [_resolve(document, s) for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    merged: dict[str, Any] = {}
    for variant in variants:
        merged.update({key: variant[key] for key in CONSTRAINTS if key in variant})
    return merged


def _public_operation(path: str, method: str) -> dict[str, Any]:
    return dict(PUBLIC["paths"][path][method])


@pytest.mark.parametrize("route", [r for r in ROUTES if r.upstream != "admin"], ids=lambda r: r.name)
def test_every_parameter_bound_a_service_enforces_is_documented(route: Any) -> None:
    upstream = UPSTREAM[route.upstream]
    enforced = upstream["paths"][route.path][route.method.lower()]
    documented = {
        (p["in"], p["name"].lower()): p for p in _public_operation(route.path, route.method.lower())["parameters"]
    }
    for parameter in enforced.get("parameters", []):
        bounds = _bounds(upstream, parameter["schema"])
        public = documented.get((parameter["in"], parameter["name"].lower()))
        assert public is not None, f"{route.name}: {parameter['in']} {parameter['name']} is not documented"
        stated = _bounds(PUBLIC, public["schema"])
        assert {k: stated.get(k) for k in bounds} == bounds, f"{route.name}: {parameter['name']}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.has_body and r.upstream == "command"], ids=lambda r: r.name)
def test_every_body_field_bound_a_service_enforces_is_documented(route: Any) -> None:
    upstream = UPSTREAM["command"]
    enforced = upstream["paths"][route.path]["post"].get("requestBody")
    if enforced is None:
        return
    model = _resolve(upstream, enforced["content"]["application/json"]["schema"])
    body = _public_operation(route.path, "post")["requestBody"]["content"]["application/json"]["schema"]
    public = _resolve(PUBLIC, body)
    assert set(public["properties"]) == set(model["properties"]), route.name
    for name, schema in model["properties"].items():
        bounds = _bounds(upstream, schema)
        stated = _bounds(PUBLIC, public["properties"][name])
        assert {k: stated.get(k) for k in bounds} == bounds, f"{route.name}: body.{name}"


def test_text_fields_refuse_nul_and_numbers_stop_at_bigint_in_the_document() -> None:
    opened = _resolve(PUBLIC, {"$ref": "#/components/schemas/OpenAccountRequest"})
    assert opened["properties"]["holder_name"]["pattern"] == "^[^\\x00]*$"
    for path, method, name in [
        ("/v1/accounts/{account_id}", "get", "X-Min-Position"),
        ("/v1/audit/events", "get", "from_position"),
        ("/v1/audit/accounts/{account_id}/state", "get", "version"),
        ("/v1/audit/streams/{stream_id}/events", "get", "from_version"),
    ]:
        [parameter] = [p for p in _public_operation(path, method)["parameters"] if p["name"] == name]
        assert parameter["schema"]["maximum"] == MAX_INT64, (path, name)
    [key] = [p for p in _public_operation("/v1/deposits", "post")["parameters"] if p["name"] == "Idempotency-Key"]
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)


def test_an_opened_account_and_a_transfer_feed_the_operations_on_them() -> None:
    opened = _public_operation("/v1/accounts", "post")["responses"]["201"]["links"]
    assert {link["operationId"] for link in opened.values()} >= {
        "get_account",
        "deposit",
        "freeze_account",
        "audit_account_state",
        "audit_stream_events",
    }
    transferred = _public_operation("/v1/transfers", "post")["responses"]["201"]["links"]
    assert {link["operationId"] for link in transferred.values()} >= {"post_transfer", "void_transfer", "get_transfer"}


def test_every_link_names_a_real_operation_and_its_parameters() -> None:
    operations = {
        operation["operationId"]: operation
        for methods in PUBLIC["paths"].values()
        for operation in methods.values()
        if "operationId" in operation
    }
    for source, links in LINKS.items():
        for name, link in links.items():
            target = operations[link["operationId"]]
            declared = {f"{p['in']}.{p['name']}" for p in target["parameters"]}
            assert set(link.get("parameters", {})) <= declared, (source, name)
            if "requestBody" in link:
                body = _resolve(PUBLIC, target["requestBody"]["content"]["application/json"]["schema"])
                assert set(link["requestBody"]) <= set(body["properties"]), (source, name)
    # schemathesis builds its stateful phase from them without an invalid transition
    schemathesis.openapi.from_dict(PUBLIC).as_state_machine()


def test_a_reader_that_changes_the_document_does_not_change_the_next_one() -> None:
    """schemathesis adds the links it infers to the document it is given; the gateway's own links stay as declared
    for every later document (the fuzz tier builds its schema at collection, before this module's tests run)."""
    before = copy.deepcopy(LINKS)
    schemathesis.openapi.from_dict(create_app(GatewaySettings(rate_limit_enabled=False)).openapi()).as_state_machine()
    assert before == LINKS
    again = create_app(GatewaySettings(rate_limit_enabled=False)).openapi()
    assert again["paths"]["/v1/accounts"]["post"]["responses"]["201"]["links"] == LINKS["open_account"]
