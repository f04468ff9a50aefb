"""The outermost layer of every request: ids in, ids out, metrics, and the last-resort 500.

A plain ASGI middleware (no per-request task, so streamed answers stay streamed). Contract:
- the request's :class:`~eventledger_gateway.context.RequestIds` are put in ``scope["state"]["ids"]`` before
  routing, and every answer (errors included) carries ``X-Request-Id`` and ``X-Correlation-Id``;
- every request is counted and timed under its route template;
- an exception that escapes the app becomes a 500 problem+json without any detail of the error (it is logged
  with the request id); if the answer had already started, the connection is left to the server to close.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventledger_gateway import metrics
from eventledger_gateway.context import RequestIds
from eventledger_gateway.problems import Problem

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
        ids = RequestIds.from_headers(_id_headers(scope["headers"]))
        scope.setdefault("state", {})["ids"] = ids
        status = 500
        started = False

        async def send_with_ids(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
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
            template = scope.get(ROUTE_TEMPLATE_KEY) or getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            metrics.REQUESTS.labels(template, method, str(status)).inc()
            metrics.LATENCY.labels(template, method).observe(time.perf_counter() - began)


_ID_HEADERS = frozenset({b"x-request-id", b"x-correlation-id", b"traceparent"})


def _id_headers(raw: Any) -> dict[str, str]:
    """The id headers of the request (ASGI gives header names in lower case)."""
    headers: dict[str, str] = {}
    for name, value in raw:
        if name in _ID_HEADERS:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return headers
