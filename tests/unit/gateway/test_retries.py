"""Which outcomes are failures that count against a circuit and may be retried, which requests may be sent again,
and how long the gateway pauses before it does."""

from __future__ import annotations

import httpx
import pytest

from eventledger_gateway.retries import is_proxy_failure, may_repeat, pause_before, transport_failure

REQUEST = httpx.Request("GET", "http://127.0.0.1:9/v1/accounts")


@pytest.mark.parametrize(
    ("method", "headers", "repeatable"),
    [
        ("GET", {}, True),
        ("HEAD", {}, True),
        ("POST", {"idempotency-key": "k"}, True),
        ("POST", {}, False),
        ("POST", {"x-idempotency": "k"}, False),
    ],
)
def test_only_reads_and_keyed_commands_may_be_sent_again(
    method: str, headers: dict[str, str], repeatable: bool
) -> None:
    assert may_repeat(method, httpx.Headers(headers)) is repeatable


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ConnectError("refused", request=REQUEST), "connect"),
        (httpx.ConnectTimeout("slow", request=REQUEST), "connect"),
        (httpx.ReadTimeout("silent", request=REQUEST), "timeout"),
        (httpx.RemoteProtocolError("closed", request=REQUEST), "connection_dropped"),
        (httpx.ReadError("reset", request=REQUEST), "connection_dropped"),
        (httpx.PoolTimeout("busy", request=REQUEST), None),
    ],
)
def test_transport_errors_are_failures_except_the_gateways_own_congestion(
    error: httpx.HTTPError, reason: str | None
) -> None:
    failure = transport_failure(error)
    assert (failure.reason if failure else None) == reason


@pytest.mark.parametrize(
    ("status", "content_type", "failure"),
    [
        (502, "text/html", True),
        (503, "text/plain; charset=utf-8", True),
        (504, "", True),
        (503, "application/problem+json", False),  # a service's considered answer (read model behind)
        (500, "text/plain", False),  # the service's own crash: repeating it would not help
        (409, "application/problem+json", False),
    ],
)
def test_only_a_proxys_502_503_504_is_a_failure(status: int, content_type: str, failure: bool) -> None:
    assert is_proxy_failure(status, {"content-type": content_type}) is failure


def test_pauses_are_short_jittered_and_grow() -> None:
    first = [pause_before(1) for _ in range(200)]
    second = [pause_before(2) for _ in range(200)]
    assert min(first) >= 0.025
    assert max(first) <= 0.05
    assert min(second) >= 0.05
    assert max(second) <= 0.1
    assert len(set(first)) > 100
