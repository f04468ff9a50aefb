"""The gateway process drains on SIGTERM: a request it is forwarding when the signal comes gets its answer, its
/readyz says 503 meanwhile, and it exits 0."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
from fastapi import FastAPI
from tests.support.drain import assert_drains, service
from tests.support.http_service import serve
from tests.support.processes import free_port
from tests.support.servers import Endpoints

from eventledger_gateway.tokens import mint_token
from eventledger_runtime.settings import GatewaySettings


class HeldUpstream:
    """An upstream whose answer to ``GET /v1/accounts/{id}`` waits until the test releases it."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/v1/accounts/{account_id}")
        async def account(account_id: str) -> dict[str, str]:
            self.arrived.set()
            await asyncio.to_thread(self.release.wait, 30)
            return {"account_id": account_id}

        return app


def test_sigterm_lets_the_request_in_flight_finish_then_the_gateway_exits_0(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    held = HeldUpstream()
    port = free_port()
    with serve(held.app()) as upstream_url:
        env = {
            "EVENTLEDGER_GATEWAY_PORT": str(port),
            "EVENTLEDGER_GATEWAY_COMMAND_URL": upstream_url,
            "EVENTLEDGER_GATEWAY_QUERY_URL": upstream_url,
            "EVENTLEDGER_NAMESPACE": f"drain-{port}",
        }
        with service(["eventledger_gateway", "serve"], env, tmp_path / "gateway.log", port) as gateway:
            token = mint_token(GatewaySettings(), ["reader"])
            answer = assert_drains(
                gateway,
                lambda: httpx.get(
                    f"http://127.0.0.1:{port}/v1/accounts/a1", headers={"Authorization": f"Bearer {token}"}, timeout=30
                ),
                in_flight=held.arrived.is_set,
                release=held.release.set,
            )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"account_id": "a1"}
