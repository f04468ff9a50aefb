"""API7:2023 Server-side request forgery: no public operation takes an address to fetch, and the gateway only ever
sends requests to the upstream addresses of its settings, which must be plain ``http://``.

The walk over the OpenAPI document checks every parameter (path, query, header) and every member of every request
body (JSON and forms, through references, nested objects, arrays and ``anyOf``); it first proves that it reaches
them, so that it cannot pass by reading nothing. The request that shows a client cannot steer the gateway to
another host is in tests/integration/gateway/test_owasp_ssrf.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from eventledger_gateway.app import create_app
from eventledger_gateway.routetable import ROUTES
from eventledger_gateway.upstream import Upstreams
from eventledger_runtime.settings import GatewaySettings

DOCUMENT = create_app(GatewaySettings(rate_limit_enabled=False)).openapi()
ADDRESS_FORMATS = frozenset(
    {"uri", "url", "uri-reference", "uri-template", "iri", "iri-reference", "hostname", "idn-hostname", "ipv4", "ipv6"}
)
ADDRESS_NAME = re.compile(r"(url|uri|host|callback|webhook|redirect|endpoint|href|link|fetch|proxy)", re.IGNORECASE)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _fields(where: str, name: str, schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, name, schema) of a value and of every value nested in it."""
    schema = _resolve(schema)
    yield where, name, schema
    for variant in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from _fields(where, name, variant)
    for member, member_schema in schema.get("properties", {}).items():
        yield from _fields(where, member, member_schema)
    if isinstance(schema.get("items"), dict):
        yield from _fields(where, name, schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _fields(where, name, schema["additionalProperties"])


def _inputs() -> list[tuple[str, str, dict[str, Any]]]:
    """Every value a client sends to any operation of the document."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}"
                found.extend(_fields(where, parameter["name"], parameter.get("schema", {})))
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                found.extend(_fields(f"{method.upper()} {path} body {media_type}", "", content.get("schema", {})))
    return found


def test_the_walk_reaches_parameters_json_bodies_and_forms() -> None:
    names = {name for _, name, _ in _inputs()}
    assert {"account_id", "limit", "X-Min-Position", "Idempotency-Key"} <= names  # path, query, header
    assert {"holder_name", "from_account_id", "roles", "revoke_tokens"} <= names  # JSON bodies
    assert {"grant_type", "client_secret", "token"} <= names  # forms of the authorization server


def test_no_public_operation_takes_an_address_to_fetch() -> None:
    offending = [
        f"{where} {name!r}"
        for where, name, schema in _inputs()
        if schema.get("format") in ADDRESS_FORMATS or (name and ADDRESS_NAME.search(name))
    ]
    assert offending == [], "an input that names a place to fetch is an SSRF surface: see docs/security.md API7"


def test_the_gateway_sends_requests_only_to_the_upstreams_of_its_settings() -> None:
    settings = GatewaySettings(
        command_url="http://127.0.0.1:1",
        query_url="http://127.0.0.1:2",
        audit_url="http://127.0.0.1:3",
        admin_url="http://127.0.0.1:4",
        rate_limit_enabled=False,
    )
    configured = {settings.command_url, settings.query_url, settings.audit_url, settings.admin_url}
    assert {settings.upstream_url(route.upstream) for route in ROUTES} == configured
    upstreams = Upstreams(settings)
    try:
        targets = {str(client.base_url).rstrip("/") for client in upstreams.distinct().values()}
    finally:
        asyncio.run(upstreams.aclose())
    assert targets == configured


@pytest.mark.parametrize("field", ["command_url", "query_url", "audit_url", "admin_url"])
@pytest.mark.parametrize(
    "address",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://files.internal",
        "//169.254.169.254",
        "dict://x",
    ],
    ids=["file", "gopher", "ftp", "scheme-relative", "dict"],
)
def test_an_upstream_address_of_another_scheme_is_refused_at_start_up(field: str, address: str) -> None:
    with pytest.raises(ValidationError, match="must start with http://"):
        GatewaySettings.model_validate({field: address})
