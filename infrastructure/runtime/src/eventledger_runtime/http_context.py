"""The outermost layer of the internal HTTP services (command, query): the caller's ``X-Correlation-Id`` on every
log line of the request (ADR 0032).

A plain ASGI middleware (no per-request task: streamed answers stay streamed). The request's server span is
FastAPI's own telemetry (FastAPI >= 0.16x records one, continuing the caller's ``traceparent``, as soon as a tracer
provider is installed: :func:`eventledger_runtime.tracing.configure_tracing`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from eventledger_runtime.logs import correlated

_CORRELATION = b"x-correlation-id"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation = next((value for name, value in scope["headers"] if name == _CORRELATION), None)
        with correlated(None if correlation is None else correlation.decode("latin-1")):
            await self.app(scope, receive, send)
