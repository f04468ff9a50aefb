"""Upstream failures over real HTTP become problems that tell the client what to do and nothing of the upstream's
insides: down → 503 with Retry-After, too slow → 504, a crash → 502 without its body."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from tests.support.http_service import serve
from tests.support.processes import free_port

from eventledger_gateway.app import create_app
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.settings import GatewaySettings

SECRET_TRACE = (
    'Traceback (most recent call last):\n  File "/srv/query/secret.py", line 7\nKeyError: dsn=postgres://u:pw@db'
)


def faulty_query_service() -> FastAPI:
    """An upstream that misbehaves on purpose: it crashes on one path and is slow on another."""
    app = FastAPI()

    @app.get("/v1/stats/overview")
    async def crash() -> PlainTextResponse:
        return PlainTextResponse(SECRET_TRACE, status_code=500)

    @app.get("/v1/accounts")
    async def slow() -> dict[str, list[str]]:
        await asyncio.sleep(3)
        return {"items": []}

    return app


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, GatewaySettings]]:
    with serve(faulty_query_service()) as query_url:
        settings = GatewaySettings(
            command_url=f"http://127.0.0.1:{free_port()}",  # nobody listens: the command service is down
            query_url=query_url,
            rate_limit_enabled=False,
            upstream_timeout_seconds=0.5,
            upstream_retry_after_seconds=3,
        )
        with serve(create_app(settings)) as url:
            yield url, settings


def _client(settings: GatewaySettings, url: str, role: str) -> httpx.Client:
    token = mint_token(settings, [role])
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_command_service_that_is_down_answers_503_with_retry_after(gateway: tuple[str, GatewaySettings]) -> None:
    url, settings = gateway
    with _client(settings, url, "writer") as client:
        answer = client.post("/v1/deposits", json={"account_id": "x", "amount": 1})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "3"
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "https://eventledger.dev/problems/upstream-unavailable"
    assert "nothing was sent" in problem["detail"]


def test_a_crashing_upstream_is_a_502_that_leaks_nothing(gateway: tuple[str, GatewaySettings]) -> None:
    url, settings = gateway
    with _client(settings, url, "reader") as client:
        answer = client.get("/v1/stats/overview")
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "https://eventledger.dev/problems/bad-gateway"
    for secret in ("Traceback", "secret.py", "postgres://", "KeyError"):
        assert secret not in answer.text
    assert answer.headers["x-request-id"] in answer.json()["detail"]


def test_a_slow_upstream_is_a_504(gateway: tuple[str, GatewaySettings]) -> None:
    url, settings = gateway
    with _client(settings, url, "reader") as client:
        answer = client.get("/v1/accounts")
    assert answer.status_code == 504
    assert answer.json()["type"] == "https://eventledger.dev/problems/upstream-timeout"


def test_the_failures_are_counted(gateway: tuple[str, GatewaySettings]) -> None:
    url, settings = gateway
    with _client(settings, url, "writer") as client:
        client.post("/v1/deposits", json={})
        metrics = client.get("/metrics").text
    assert 'eventledger_gateway_upstream_errors_total{kind="upstream_unavailable",upstream="command"}' in metrics


def test_readyz_names_the_upstream_that_is_down(gateway: tuple[str, GatewaySettings]) -> None:
    url, _ = gateway
    ready = httpx.get(f"{url}/readyz", timeout=30)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["command+audit"].startswith("unreachable")
    assert "redis" not in checks  # rate limiting is off here, so Redis is no dependency
