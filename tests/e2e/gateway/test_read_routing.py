"""Reads routed to the query service (here its STAND-IN, see query_service_standin.py) over real HTTP: what goes
up (path, query string, X-Min-Position, the gateway's ids and actor, never the token), what comes back
(X-Read-Position, the bounded-wait 503 with Retry-After, 404 problems), and Server-Sent Events relayed as they come."""

from __future__ import annotations

import json
import re

import httpx
from tests.support.gateway import System
from tests.support.query_service_standin import KNOWN_ACCOUNT, READ_POSITION


def test_a_query_goes_to_the_query_service_with_the_gateways_headers(system: System) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with system.client("reader", subject="dashboard-7") as client:
        answer = client.get(
            f"/v1/accounts/{KNOWN_ACCOUNT}",
            headers={"X-Min-Position": "40", "traceparent": traceparent, "X-Actor": "mallory", "X-Request-Id": "r-1"},
        )
    assert answer.status_code == 200
    assert answer.json()["balance"] == 2500
    assert answer.headers["x-read-position"] == str(READ_POSITION)
    assert answer.headers["x-request-id"] == "r-1"
    received = system.query.last()
    assert received["raw_path"] == f"/v1/accounts/{KNOWN_ACCOUNT}"
    headers = received["headers"]
    assert headers["x-actor"] == "dashboard-7"
    assert headers["x-min-position"] == "40"
    assert headers["traceparent"] == traceparent
    assert headers["x-request-id"] == "r-1"
    assert headers["x-correlation-id"] == answer.headers["x-correlation-id"]
    assert "authorization" not in headers


def test_the_gateway_creates_a_traceparent_on_the_correlation_id(system: System) -> None:
    with system.client("reader") as client:
        answer = client.get("/v1/stats/overview")
    traceparent = system.query.last()["headers"]["traceparent"]
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", traceparent)
    assert traceparent.split("-")[1] == answer.headers["x-correlation-id"].replace("-", "")


def test_query_strings_pass_through_byte_for_byte(system: System) -> None:
    query = "q=rent%20share&currency=EUR&min_amount=100&to=2026-11-25T12%3A00%3A00Z&limit=5"
    with system.client("reader") as client:
        answer = client.get(f"/v1/search/transfers?{query}")
    assert answer.status_code == 200
    assert system.query.last()["query"] == query
    assert answer.json()["query"]["q"] == "rent share"


def test_a_read_model_behind_x_min_position_answers_503_with_retry_after(system: System) -> None:
    with system.client("reader") as client:
        answer = client.get(f"/v1/accounts/{KNOWN_ACCOUNT}", headers={"X-Min-Position": str(READ_POSITION + 1)})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "https://eventledger.dev/problems/read-model-behind"


def test_an_unknown_id_is_the_query_services_404_problem(system: System) -> None:
    with system.client("reader") as client:
        answer = client.get("/v1/accounts/5d1c9f0a-2b8e-4e7d-a6c3-1f9e8d7c6b5a")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "no account 5d1c9f0a-2b8e-4e7d-a6c3-1f9e8d7c6b5a"


def test_admin_operations_reach_the_query_service_with_the_admin_role(system: System) -> None:
    with system.client("admin") as admin:
        rebuild = admin.post("/v1/admin/projections/accounts-postgres/rebuild")
    assert rebuild.status_code == 200
    assert system.query.last()["method"] == "POST"
    assert system.query.last()["raw_path"] == "/v1/admin/projections/accounts-postgres/rebuild"


def test_the_event_stream_is_relayed_as_it_comes_not_buffered(system: System) -> None:
    """The stand-in sends its second event only after the test has read the first: a gateway that buffered the
    stream would never hand over the first event while the gate is shut."""
    system.query.stream_gate.clear()
    system.query.stream_closed.clear()
    with system.client("reader") as client, client.stream("GET", "/v1/stats/stream") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["x-read-position"] == str(READ_POSITION)
        lines = stream.iter_lines()
        first = _next_event(lines)
        assert not system.query.stream_gate.is_set()
        assert first == {"open_accounts": 1}
        system.query.stream_gate.set()
        assert _next_event(lines) == {"open_accounts": 2}
    assert system.query.stream_closed.wait(10)


def test_a_client_leaving_a_stream_closes_the_upstream_stream(system: System) -> None:
    system.query.stream_gate.clear()
    system.query.stream_abandoned.clear()
    with system.client("reader") as client, client.stream("GET", "/v1/stats/stream") as stream:
        assert _next_event(stream.iter_lines()) == {"open_accounts": 1}
    # The gate stays shut: only the gateway hanging up on the query service ends the upstream stream.
    assert system.query.stream_abandoned.wait(5)
    system.query.stream_gate.set()


def _next_event(lines: object) -> dict[str, object]:
    for line in lines:  # type: ignore[attr-defined]
        if line.startswith("data: "):
            return dict(json.loads(line.removeprefix("data: ")))
    raise AssertionError("the stream ended without an event")


def test_the_metrics_count_routed_requests_by_template(system: System) -> None:
    with system.client("reader") as client:
        client.get(f"/v1/accounts/{KNOWN_ACCOUNT}")
    metrics = httpx.get(f"{system.gateway_url}/metrics").text
    assert re.search(
        r'eventledger_gateway_requests_total\{method="GET",route="/v1/accounts/\{account_id\}",status="200"\} [1-9]',
        metrics,
    )
    assert (
        'eventledger_gateway_request_duration_seconds_bucket{le="0.1",method="GET",route="/v1/accounts/{account_id}"}'
        in metrics
    )
