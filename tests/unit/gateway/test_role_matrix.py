"""The route table against PRODUCT.md §3, and the role x endpoint matrix on the app in process.

The expected rows (``SPEC`` in tests/support/gateway.py) are written out, not derived from the table, so that a row
missing from the table or given the wrong role fails. Rate limiting is off and nothing listens upstream: a request
that passes auth gets 503.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.support.gateway import SPEC, bearer

from eventledger_gateway.routetable import ROUTES, Role
from eventledger_runtime.settings import GatewaySettings

ID = "0b7f2a8e-5f55-4c11-9d0e-8a4c2f0d9b10"
UPSTREAM_OF_ROLE = {"writer": "command", "reader": "query", "auditor": "audit", "admin": "admin"}


def concrete(path: str) -> str:
    return (
        path.replace("{account_id}", ID)
        .replace("{transfer_id}", ID)
        .replace("{stream_id}", f"account-{ID}")
        .replace("{projection}", "accounts-postgres")
    )


def test_the_route_table_is_exactly_the_spec() -> None:
    assert {(route.method, route.path): route.role.value for route in ROUTES} == SPEC
    for route in ROUTES:
        if route.name == "erase_account_holder":  # the command service owns the data keys it destroys
            assert route.upstream == "command"
            continue
        assert route.upstream == UPSTREAM_OF_ROLE[route.role.value]
    assert len({route.name for route in ROUTES}) == len(ROUTES)


def test_only_read_model_queries_fail_open() -> None:
    assert {route.name for route in ROUTES if not route.fail_closed} == {
        route.name for route in ROUTES if route.role is Role.READER
    }
    assert [route.name for route in ROUTES if route.streaming] == ["stats_stream", "audit_log_export"]


CASES = sorted(SPEC.items())


@pytest.mark.parametrize(("endpoint", "role"), CASES, ids=[f"{m} {p}" for (m, p), _ in CASES])
def test_every_route_answers_401_403_and_lets_its_role_through(
    client: TestClient, settings: GatewaySettings, endpoint: tuple[str, str], role: str
) -> None:
    method, path = endpoint
    url = concrete(path)
    json_body: dict[str, object] | None = {} if method == "POST" else None

    missing = client.request(method, url, json=json_body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="eventledger"'
    assert missing.headers["content-type"] == "application/problem+json"

    forged = client.request(method, url, json=json_body, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]

    expired = client.request(method, url, json=json_body, headers=bearer(settings, role, ttl=-60))
    assert expired.status_code == 401
    assert expired.json()["detail"] == "the token expired"

    for other in {r.value for r in Role} - {role}:
        wrong = client.request(method, url, json=json_body, headers=bearer(settings, other))
        assert wrong.status_code == 403, other
        assert wrong.json()["type"] == "https://eventledger.dev/problems/forbidden"
        assert wrong.json()["required_role"] == role

    allowed = client.request(method, url, json=json_body, headers=bearer(settings, role))
    assert allowed.status_code == 503
    assert allowed.json()["type"] == "https://eventledger.dev/problems/upstream-unavailable"


def test_unknown_paths_and_methods_are_problems_even_without_a_token(client: TestClient) -> None:
    unknown = client.get("/v1/ledgers")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "https://eventledger.dev/problems/not-found"
    wrong_method = client.delete("/v1/accounts")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "https://eventledger.dev/problems/method-not-allowed"
    head = client.head(f"/v1/accounts/{ID}")
    assert head.status_code == 405


def test_every_answer_echoes_request_and_correlation_ids(client: TestClient) -> None:
    answer = client.get("/v1/accounts", headers={"X-Request-Id": "abc-123"})
    assert answer.headers["x-request-id"] == "abc-123"
    assert answer.headers["x-correlation-id"]
    assert client.get("/nowhere").headers["x-request-id"]


def test_a_body_over_the_limit_is_refused_before_it_is_forwarded(settings: GatewaySettings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 1024})
    from eventledger_gateway.app import create_app

    with TestClient(create_app(small)) as limited:
        answer = limited.post("/v1/deposits", content=b"x" * 2048, headers=bearer(small, "writer"))
        assert answer.status_code == 413
        assert answer.json()["type"] == "https://eventledger.dev/problems/payload-too-large"
        chunked = limited.post("/v1/deposits", content=iter([b"x" * 700, b"x" * 700]), headers=bearer(small, "writer"))
        assert chunked.status_code == 413
