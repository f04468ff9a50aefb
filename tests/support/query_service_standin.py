"""A STAND-IN for the query service: a small real HTTP app that answers the query and admin rows of PRODUCT.md
§3 the way the contract says (``X-Read-Position`` on every answer, the bounded ``X-Min-Position`` wait answered 503
problem+json with ``Retry-After``, problem+json 404s, Server-Sent Events), and records what it received, so that
the gateway's side of the contract is checked over real HTTP with full control: exact headers received, a stream
held back on purpose, answers the real service gives only in rare states. test_real_query_service.py runs the
same routing against the real query service on the real pipeline.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

KNOWN_ACCOUNT = "0b7f2a8e-5f55-4c11-9d0e-8a4c2f0d9b10"
READ_POSITION = 41
PROBLEM_JSON = "application/problem+json"


class QueryServiceStandIn:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.stream_gate = threading.Event()
        self.stream_closed = threading.Event()
        self.stream_abandoned = threading.Event()

    def last(self) -> dict[str, Any]:
        return self.received[-1]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            if request.url.path.startswith("/v1/"):
                self.received.append(
                    {
                        "method": request.method,
                        "raw_path": request.scope["raw_path"].decode(),
                        "query": request.scope["query_string"].decode(),
                        "headers": dict(request.headers),
                    }
                )
            response: Response = await call_next(request)
            response.headers["X-Read-Position"] = str(READ_POSITION)
            return response

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/v1/accounts/{account_id}")
        async def account(account_id: str, request: Request) -> Response:
            wanted = request.headers.get("x-min-position")
            if wanted is not None and int(wanted) > READ_POSITION:
                return _problem(503, "read-model-behind", f"the read model is at {READ_POSITION}", {"Retry-After": "2"})
            if account_id != KNOWN_ACCOUNT:
                return _problem(404, "not-found", f"no account {account_id}")
            return JSONResponse({"account_id": account_id, "currency": "EUR", "balance": 2500, "available": 2500})

        @app.get("/v1/stats/stream")
        async def stream() -> StreamingResponse:
            return StreamingResponse(self._figures(), media_type="text/event-stream")

        @app.api_route("/v1/{path:path}", methods=["GET", "POST"])
        async def anything_else(path: str, request: Request) -> dict[str, Any]:
            return {"items": [], "path": f"/v1/{path}", "query": dict(request.query_params)}

        return app

    async def _figures(self) -> AsyncIterator[bytes]:
        """One event now; the next only once the test has opened the gate (so a buffering gateway would hand over
        nothing), or after 10 s. ``stream_abandoned`` is set when the stream ends (the gateway hung up and the
        server cancelled it) while the gate is still shut."""
        try:
            yield _event({"open_accounts": 1})
            for _ in range(1000):
                if self.stream_gate.is_set():
                    break
                await asyncio.sleep(0.01)
            yield _event({"open_accounts": 2})
        finally:
            if not self.stream_gate.is_set():
                self.stream_abandoned.set()
            self.stream_closed.set()


def _event(figures: dict[str, Any]) -> bytes:
    return f"event: overview\ndata: {json.dumps(figures)}\n\n".encode()


def _problem(status: int, kind: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    body = {"type": f"https://eventledger.dev/problems/{kind}", "title": kind, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
