"""Retries and the circuit breaker over real HTTP, against an upstream that answers as HAProxy does when replicas
die (a plain 502/503/504) or that hangs: reads and keyed commands are retried, a POST without a key never is, a
service's own 503 problem is passed on; repeated failures open the circuit, which then answers at once until a
probe succeeds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from tests.support.http_service import serve

from eventledger_gateway.app import create_app
from eventledger_gateway.tokens import mint_token
from eventledger_runtime.settings import GatewaySettings

COOLDOWN = 1.0


@dataclass
class Script:
    """What the stand-in answers: the next statuses in ``failures`` (plain text, as a proxy's), then success;
    ``hang`` makes it sleep past the gateway's timeout."""

    failures: list[int] = field(default_factory=list)
    hang: bool = False
    seen: list[tuple[str, str | None]] = field(default_factory=list)


def flaky_upstream(script: Script) -> FastAPI:
    app = FastAPI()

    async def answer(request: Request, success: Response) -> Response:
        script.seen.append((request.method, request.headers.get("idempotency-key")))
        if script.hang:
            await asyncio.sleep(2)
        if script.failures:
            return PlainTextResponse("<h1>no server is available</h1>", status_code=script.failures.pop(0))
        return success

    @app.get("/v1/accounts/{account_id}")
    async def account(request: Request, account_id: str) -> Response:
        return await answer(request, JSONResponse({"account_id": account_id}, headers={"x-read-position": "1"}))

    @app.get("/v1/transfers/{transfer_id}")
    async def behind(request: Request) -> Response:
        script.seen.append((request.method, None))
        problem = {"type": "https://eventledger.dev/problems/read-model-behind", "status": 503}
        return JSONResponse(problem, status_code=503, media_type="application/problem+json")

    @app.post("/v1/deposits")
    async def deposit(request: Request) -> Response:
        return await answer(request, JSONResponse({"transfer_id": "t"}, status_code=201))

    return app


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def gateway(script: Script) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """A writer's and a reader's client to a gateway whose command and query upstream is the flaky stand-in."""
    with serve(flaky_upstream(script)) as upstream_url:
        settings = GatewaySettings(
            command_url=upstream_url,
            query_url=upstream_url,
            rate_limit_enabled=False,
            upstream_timeout_seconds=0.5,
            breaker_cooldown_seconds=COOLDOWN,
        )
        with serve(create_app(settings)) as url:
            writer, reader = (
                httpx.Client(base_url=url, headers={"Authorization": f"Bearer {mint_token(settings, [role])}"})
                for role in ("writer", "reader")
            )
            with writer, reader:
                yield writer, reader


def _metric(client: httpx.Client, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


RETRIES = 'eventledger_gateway_upstream_retries_total{reason="http_503",upstream="query"}'


def test_a_read_is_retried_past_a_proxys_failures(gateway: tuple[httpx.Client, httpx.Client], script: Script) -> None:
    _, reader = gateway
    before = _metric(reader, RETRIES)
    script.failures = [503, 503]
    answer = reader.get("/v1/accounts/a1")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-read-position"] == "1"
    assert len(script.seen) == 3
    assert _metric(reader, RETRIES) == before + 2


def test_retries_are_bounded(gateway: tuple[httpx.Client, httpx.Client], script: Script) -> None:
    _, reader = gateway
    script.failures = [502, 504, 502, 502]
    answer = reader.get("/v1/accounts/a1")
    assert answer.status_code == 502
    assert answer.json()["type"] == "https://eventledger.dev/problems/bad-gateway"
    assert len(script.seen) == 3  # one attempt and two more


def test_a_command_with_an_idempotency_key_is_retried(
    gateway: tuple[httpx.Client, httpx.Client], script: Script
) -> None:
    writer, _ = gateway
    script.failures = [502]
    answer = writer.post("/v1/deposits", json={"account_id": "a", "amount": 1}, headers={"Idempotency-Key": "k-1"})
    assert answer.status_code == 201
    assert script.seen == [("POST", "k-1"), ("POST", "k-1")]


def test_a_command_without_an_idempotency_key_is_never_sent_twice(
    gateway: tuple[httpx.Client, httpx.Client], script: Script
) -> None:
    writer, _ = gateway
    script.failures = [502]
    answer = writer.post("/v1/deposits", json={"account_id": "a", "amount": 1})
    assert answer.status_code == 502
    assert "Idempotency-Key" in answer.json()["detail"]
    assert script.seen == [("POST", None)]


def test_a_services_own_503_problem_is_passed_on_not_retried(
    gateway: tuple[httpx.Client, httpx.Client], script: Script
) -> None:
    _, reader = gateway
    answer = reader.get("/v1/transfers/t1", headers={"X-Min-Position": "9"})
    assert answer.status_code == 503
    assert answer.json()["type"] == "https://eventledger.dev/problems/read-model-behind"
    assert len(script.seen) == 1


def test_a_hanging_upstream_opens_the_circuit_which_answers_at_once_until_a_probe_succeeds(
    gateway: tuple[httpx.Client, httpx.Client], script: Script
) -> None:
    _, reader = gateway
    state = 'eventledger_gateway_upstream_circuit_state{upstream="command+query+audit+admin"}'
    opened = 'eventledger_gateway_upstream_circuit_transitions_total{state="open",upstream="command+query+audit+admin"}'
    opened_before = _metric(reader, opened)
    script.hang = True
    for _ in range(5):  # each times out after the route's 0.5 s, which leaves no time for a retry
        assert reader.get("/v1/accounts/a1").status_code == 504
    assert len(script.seen) == 5
    assert _metric(reader, state) == 1
    assert _metric(reader, opened) == opened_before + 1

    began = time.monotonic()
    refused = reader.get("/v1/accounts/a1")
    assert time.monotonic() - began < 0.25  # not the 0.5 s of waiting on the upstream
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["type"] == "https://eventledger.dev/problems/upstream-circuit-open"
    assert len(script.seen) == 5  # nothing was sent

    script.hang = False
    time.sleep(COOLDOWN + 0.1)
    assert reader.get("/v1/accounts/a1").status_code == 200  # the probe
    assert _metric(reader, state) == 0
    assert reader.get("/v1/accounts/a1").status_code == 200
