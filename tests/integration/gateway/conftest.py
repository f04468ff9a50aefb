"""Gateway integration fixtures: real Redis (from ``endpoints``), a real gateway over HTTP, and an echo upstream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from tests.support.gateway import gateway_settings
from tests.support.http_service import serve
from tests.support.redis_keys import delete_keys
from tests.support.servers import Endpoints

from eventledger_gateway.app import create_app
from eventledger_runtime.settings import GatewaySettings


def echo_upstream() -> FastAPI:
    """Answers every request with what it received (it stands in for any upstream; the contract is not its point)."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def echo(path: str, request: Request) -> dict[str, Any]:
        return {"path": f"/{path}", "method": request.method, "headers": dict(request.headers)}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    with serve(echo_upstream()) as url:
        yield url


@pytest.fixture
def key_prefix(endpoints: Endpoints) -> Iterator[str]:
    """A rate-limit key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:gateway:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_keys(endpoints.redis_url, prefix)


@pytest.fixture
def gateway(upstream_url: str, endpoints: Endpoints, key_prefix: str) -> Iterator[tuple[str, GatewaySettings]]:
    """A gateway whose clients may send 3 requests at once and one every 2 s after that (slow enough that a busy
    machine cannot refill a bucket between a test's requests)."""
    settings = gateway_settings(
        upstream_url, endpoints.redis_url, key_prefix, rate_limit_burst=3, rate_limit_per_second=0.5
    )
    with serve(create_app(settings)) as url:
        yield url, settings
