"""API3:2023 Broken object property level authorization, mass assignment: a client sets only the members a command
documents. A member the service owns (an id, a balance, a status, a version, a position, the actor) sent in a
command's body is refused as a 422 naming it, and nothing is written; the same body without it is accepted (so the
refusal is the member's). The public OpenAPI document says so: every JSON request body is closed
(``additionalProperties: false``)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.command_api import Api

from eventledger_command.bootstrap import Container
from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings

OWNED_BY_THE_SERVICE = {
    "account_id": "0b7f2a8e-5f55-4c11-9d0e-8a4c2f0d9b10",
    "transfer_id": "0b7f2a8e-5f55-4c11-9d0e-8a4c2f0d9b11",
    "balance": 10**9,
    "available": 10**9,
    "status": "closed",
    "version": 7,
    "position": 1,
    "actor": "mallory",
    "created_at": "2020-01-01T00:00:00Z",
}


def _bodies(api: Api) -> dict[str, dict[str, Any]]:
    source, destination = api.open("Source"), api.open("Destination")
    api.deposit(source, 1_000)
    return {
        "/v1/accounts": {"holder_name": "Ada", "currency": "EUR"},
        "/v1/deposits": {"account_id": source, "amount": 10},
        "/v1/withdrawals": {"account_id": source, "amount": 10},
        "/v1/transfers": {"from_account_id": source, "to_account_id": destination, "amount": 10},
    }


@pytest.mark.parametrize("member", sorted(OWNED_BY_THE_SERVICE))
def test_a_member_the_service_owns_is_refused_and_nothing_is_written(
    api: Api, client: TestClient, container: Container, member: str
) -> None:
    for path, body in _bodies(api).items():
        if member in body:
            continue  # a member this command documents (the account a deposit goes to)
        before = container.store.head_position()
        refused = client.post(path, json={**body, member: OWNED_BY_THE_SERVICE[member]})
        assert refused.status_code == 422, (path, refused.text)
        assert {error["field"] for error in refused.json()["errors"]} == {f"body.{member}"}, path
        assert container.store.head_position() == before, f"{path} wrote events for a refused body"
        assert client.post(path, json=body).status_code == 201, path


def test_every_json_request_body_of_the_public_document_is_closed() -> None:
    document = create_app(GatewaySettings(rate_limit_enabled=False)).openapi()
    checked = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            if "application/json" not in content:
                continue
            schema = content["application/json"]["schema"]
            while "$ref" in schema:
                schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            assert schema.get("additionalProperties") is False, f"{method.upper()} {path} accepts unknown members"
            checked.append(path)
    assert {"/v1/accounts", "/v1/deposits", "/v1/withdrawals", "/v1/transfers", "/v1/admin/clients"} <= set(checked)
