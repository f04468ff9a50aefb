"""The outermost layer of the internal HTTP services (command, query): the caller's correlation id on every log
line of the request, and, with tracing on, a server span continuing the caller's ``traceparent`` (ADR 0032).

A plain ASGI middleware (no per-request task: streamed answers stay streamed). The span is named
``<method> <route template>`` and carries ``http.request.method``, ``url.path``, ``http.route`` and
``http.response.status_code``; a 5xx answer or an exception marks it as an error.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventledger_runtime import tracing
from eventledger_runtime.logs import correlated

_WANTED = frozenset({b"x-correlation-id", b"traceparent", b"tracestate"})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope["headers"])
        with correlated(headers.get("x-correlation-id")):
            if not tracing.enabled():
                await self.app(scope, receive, send)
                return
            await self._traced(scope, receive, send, headers)

    async def _traced(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        method = scope["method"]
        with tracing.tracer().start_as_current_span(
            method,
            context=tracing.context_from_headers(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.set_attribute("http.route", route)
                    span.update_name(f"{method} {route}")


def _headers(raw: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in raw:
        if name in _WANTED:
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found
