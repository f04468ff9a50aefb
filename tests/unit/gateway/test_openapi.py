"""The OpenAPI document describes the whole public API of §3, with schemas, examples, security and problems."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.gateway import LOCAL_SPEC, SPEC

from eventledger_gateway.routetable import ROUTES


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json())


def _resolve(document: dict[str, Any], reference: str) -> dict[str, Any]:
    assert reference.startswith("#/components/schemas/"), reference
    return dict(document["components"]["schemas"][reference.rsplit("/", 1)[1]])


def _references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


def test_every_route_of_the_spec_is_documented_with_its_role(document: dict[str, Any]) -> None:
    documented = {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if path.startswith("/v1/")
    }
    assert set(documented) == set(SPEC) | set(LOCAL_SPEC)
    for (method, path), role in (SPEC | LOCAL_SPEC).items():
        operation = documented[(method, path)]
        assert operation["security"] == [{"bearerAuth": []}]
        assert f"`{role}`" in operation["description"]
        proxied = ("502", "504") if (method, path) in SPEC else ()
        for status in ("401", "403", "429", "503", *proxied):
            problem = operation["responses"][status]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/ProblemDetails"}


def test_the_bearer_scheme_is_declared(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    references = _references(document)
    assert references
    for reference in references:
        _resolve(document, reference)


def test_every_path_parameter_is_declared(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, path


def test_commands_document_their_bodies_answers_and_examples(document: dict[str, Any]) -> None:
    deposit = document["paths"]["/v1/deposits"]["post"]
    body = deposit["requestBody"]["content"]["application/json"]
    assert body["example"]["amount"] == 2500
    schema = _resolve(document, body["schema"]["$ref"])
    assert set(schema["required"]) == {"account_id", "amount"}
    answer = deposit["responses"]["201"]["content"]["application/json"]
    assert set(_resolve(document, answer["schema"]["$ref"])["properties"]) == {"transfer_id", "status", "position"}
    assert answer["example"]["status"] == "posted"
    assert {"409", "422"} <= set(deposit["responses"])
    headers = {p["name"] for p in deposit["parameters"] if p["in"] == "header"}
    assert "Idempotency-Key" in headers


def test_queries_document_parameters_read_position_and_examples(document: dict[str, Any]) -> None:
    search = document["paths"]["/v1/search/transfers"]["get"]
    query = {p["name"] for p in search["parameters"] if p["in"] == "query"}
    assert query == {"q", "currency", "status", "min_amount", "max_amount", "from", "to", "limit"}
    assert "X-Min-Position" in {p["name"] for p in search["parameters"] if p["in"] == "header"}
    ok = search["responses"]["200"]
    assert "X-Read-Position" in ok["headers"]
    assert ok["content"]["application/json"]["example"]["facets"]["currency"][0]["value"] == "EUR"
    stream = document["paths"]["/v1/stats/stream"]["get"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]


def test_every_success_answer_has_an_example(document: dict[str, Any]) -> None:
    for route in ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        success = next(status for status in operation["responses"] if status.startswith("2"))
        content = operation["responses"][success]["content"]
        assert all(media.get("example") is not None for media in content.values()), route.name


def test_operations_endpoints_are_documented_without_security(document: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "security" not in document["paths"][path]["get"]


def test_the_interactive_docs_are_served(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
