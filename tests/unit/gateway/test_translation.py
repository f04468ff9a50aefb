"""Upstream answers and failures mapped to the gateway's answers: pass-through, 502, 503, 504, no leaks."""

from __future__ import annotations

import json

import httpx
import pytest

from eventledger_gateway.ratelimit import Decision
from eventledger_gateway.routetable import ROUTES, Route
from eventledger_gateway.translation import problem_for_transport_error, translate_answer

COMMAND = next(route for route in ROUTES if route.name == "deposit")
QUERY = next(route for route in ROUTES if route.name == "get_account")
PROBLEM = {"content-type": "application/problem+json"}


def _translate(route: Route, status: int, headers: dict[str, str], content: bytes) -> tuple[int, dict[str, str], bytes]:
    response = translate_answer(route, status, headers, content, instance="/v1/x", request_id="req-7")
    return response.status_code, dict(response.headers), bytes(response.body)


def test_a_success_passes_through_with_the_contract_headers_only() -> None:
    upstream = {
        "content-type": "application/json",
        "x-read-position": "41",
        "idempotent-replayed": "true",
        "set-cookie": "session=1",
        "server": "uvicorn",
    }
    status, headers, body = _translate(QUERY, 200, upstream, b'{"ok":true}')
    assert (status, body) == (200, b'{"ok":true}')
    assert headers["x-read-position"] == "41"
    assert headers["idempotent-replayed"] == "true"
    assert "set-cookie" not in headers
    assert "server" not in headers


@pytest.mark.parametrize("status", [404, 409, 422])
def test_an_upstream_problem_passes_through_as_is(status: int) -> None:
    body = json.dumps({"type": "https://eventledger.dev/problems/insufficient-funds", "status": status}).encode()
    assert _translate(COMMAND, status, PROBLEM, body) == (status, {**PROBLEM, "content-length": str(len(body))}, body)


def test_a_4xx_without_a_problem_body_becomes_the_generic_problem() -> None:
    status, headers, body = _translate(QUERY, 404, {"content-type": "text/html"}, b"<h1>Not Found</h1>")
    assert status == 404
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["type"] == "https://eventledger.dev/problems/not-found"
    assert b"<h1>" not in body


def test_the_query_sides_503_problem_passes_through_and_always_has_retry_after() -> None:
    body = b'{"type":"https://eventledger.dev/problems/read-model-behind","status":503}'
    status, headers, passed = _translate(QUERY, 503, PROBLEM, body)
    assert (status, passed) == (503, body)
    assert headers["retry-after"] == "1"
    assert _translate(QUERY, 503, {**PROBLEM, "retry-after": "3"}, body)[1]["retry-after"] == "3"


@pytest.mark.parametrize("status", [500, 502, 504])
def test_an_upstream_5xx_becomes_502_without_its_body(status: int) -> None:
    leak = b"Traceback (most recent call last):\n  File secret.py\npassword=hunter2"
    answer_status, headers, body = _translate(COMMAND, status, {"content-type": "text/plain"}, leak)
    problem = json.loads(body)
    assert answer_status == 502
    assert headers["content-type"] == "application/problem+json"
    assert problem["type"] == "https://eventledger.dev/problems/bad-gateway"
    assert "Traceback" not in body.decode()
    assert "hunter2" not in body.decode()
    assert "req-7" in problem["detail"]
    assert "Idempotency-Key" in problem["detail"]  # a command may have been applied


def test_a_proxys_plain_503_is_upstream_unavailable_with_retry_after_and_leaks_nothing() -> None:
    """HAProxy answers 503 itself when no replica is up: the client may retry later, as with a refused connection."""
    page = b"<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>"
    status, headers, body = _translate(COMMAND, 503, {"content-type": "text/html", "retry-after": "4"}, page)
    problem = json.loads(body)
    assert (status, headers["retry-after"]) == (503, "4")
    assert problem["type"] == "https://eventledger.dev/problems/upstream-unavailable"
    assert "No server" not in body.decode()
    assert "Idempotency-Key" in problem["detail"]
    assert _translate(QUERY, 503, {}, b"")[1]["retry-after"] == "1"


def test_a_query_5xx_does_not_talk_about_idempotency() -> None:
    _, _, body = _translate(QUERY, 500, {}, b"boom")
    assert "Idempotency-Key" not in json.loads(body)["detail"]


def _request() -> httpx.Request:
    return httpx.Request("POST", "http://upstream/v1/deposits")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (httpx.ConnectError("refused", request=_request()), 503, "upstream_unavailable"),
        (httpx.ConnectTimeout("slow connect", request=_request()), 503, "upstream_unavailable"),
        (httpx.PoolTimeout("no connection free", request=_request()), 503, "upstream_unavailable"),
        (httpx.ReadTimeout("slow answer", request=_request()), 504, "upstream_timeout"),
        (httpx.WriteTimeout("slow write", request=_request()), 504, "upstream_timeout"),
        (httpx.RemoteProtocolError("server disconnected", request=_request()), 502, "bad_gateway"),
        (httpx.ReadError("reset by peer", request=_request()), 502, "bad_gateway"),
    ],
)
def test_transport_failures(error: httpx.HTTPError, status: int, code: str) -> None:
    problem = problem_for_transport_error(COMMAND, error, retry_after_seconds=4)
    assert (problem.status, problem.code) == (status, code)
    if status == 503:
        assert problem.headers == {"Retry-After": "4"}
        assert "nothing was sent" in problem.detail
    else:
        assert "Idempotency-Key" in problem.detail
    assert "refused" not in problem.detail  # the exception's own text is logged, not shown


@pytest.mark.parametrize(("seconds", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.5, "60")])
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    assert Decision(False, 0.0, seconds).retry_after_header == header
