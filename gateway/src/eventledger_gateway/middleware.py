"""The outermost layer of every request: ids in, ids out, metrics, and the last-resort 500.

A plain ASGI middleware (no per-request task, so streamed answers stay streamed). Contract:
- the request's :class:`~eventledger_gateway.context.RequestIds` are put in ``scope["state"]["ids"]`` before
  routing, and every answer (errors included) carries ``X-Request-Id`` and ``X-Correlation-Id``;
- every request is counted and timed under its route template;
- an exception that escapes the app becomes a 500 problem+json without any detail of the error (it is logged
  with the request id); if the answer had already started, the connection is left to the server to close;
- every log line of the request carries its correlation id; with tracing on (ADR 0032) the request is a server
  span, the child of the client's ``traceparent`` when it sent a valid one, else the root of a trace whose id is
  the correlation id; it is named ``<method> <route template>`` once routed (no span for the probes and scrapes
  of ``/healthz``, ``/readyz`` and ``/metrics``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry.trace import SpanKind
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventledger_gateway import metrics
from eventledger_gateway.context import RequestIds
from eventledger_gateway.problems import Problem
from eventledger_runtime import tracing
from eventledger_runtime.logs import correlated

log = logging.getLogger(__name__)

# Where a public route's endpoint notes its path template (FastAPI sets scope["route"] for its own routes only).
ROUTE_TEMPLATE_KEY = "eventledger.route"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        headers = _id_headers(scope["headers"])
        ids = RequestIds.from_headers(headers)
        scope.setdefault("state", {})["ids"] = ids
        with correlated(ids.correlation_id):
            if not tracing.enabled() or tracing.is_probe(scope):
                await self._handle(scope, receive, send, ids, began)
                return
            method = scope["method"]
            with (
                tracing.trace_id_from(ids.correlation_id),
                tracing.tracer().start_as_current_span(
                    method,
                    context=tracing.context_from_headers(headers),
                    kind=SpanKind.SERVER,
                    attributes={"http.request.method": method, "url.path": scope["path"]},
                ) as span,
            ):
                try:
                    await self._handle(scope, receive, send, ids, began)
                finally:
                    template = _template(scope)
                    span.set_attribute("http.route", template)
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.response.status_code", scope["state"].get("status", 500))

    async def _handle(self, scope: Scope, receive: Receive, send: Send, ids: RequestIds, began: float) -> None:
        status = 500
        started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = scope["state"]["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = ids.request_id
                headers["x-correlation-id"] = str(ids.correlation_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
            log.exception("unexpected error on %s %s (request %s)", scope["method"], scope["path"], ids.request_id)
            if not started:
                problem = Problem(500, "internal_error", "Internal error", f"logged under request id {ids.request_id}")
                await problem.response(scope["path"])(scope, receive, send_with_ids)
        finally:
            template = _template(scope)
            method = scope["method"]
            metrics.REQUESTS.labels(template, method, str(status)).inc()
            metrics.LATENCY.labels(template, method).observe(time.perf_counter() - began)


def _template(scope: Scope) -> str:
    return scope.get(ROUTE_TEMPLATE_KEY) or getattr(scope.get("route"), "path", None) or "unmatched"


_ID_HEADERS = frozenset({b"x-request-id", b"x-correlation-id", b"traceparent", b"tracestate"})


def _id_headers(raw: Any) -> dict[str, str]:
    """The id headers of the request (ASGI gives header names in lower case)."""
    headers: dict[str, str] = {}
    for name, value in raw:
        if name in _ID_HEADERS:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return headers
