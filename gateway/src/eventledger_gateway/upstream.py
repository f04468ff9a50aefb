"""Forwarding a request to the service that answers it, over pooled keep-alive connections.

Contract of :meth:`Upstreams.forward`:
- the upstream gets the method, the raw path and query string, the body, and only these headers: ``Content-Type``,
  ``Accept``, ``Idempotency-Key``, ``X-Min-Position``, ``tracestate``, plus the gateway's ``X-Actor`` (the token's
  subject; a client's own ``X-Actor`` is never passed on), ``X-Request-Id``, ``X-Correlation-Id`` and
  ``traceparent``;
- the client gets the upstream's status and body with ``Content-Type``, ``X-Read-Position``, ``Retry-After``,
  ``Idempotent-Replayed``, ``Location`` and ``Cache-Control``;
- errors are mapped by :mod:`eventledger_gateway.translation`: an upstream that cannot be reached → 503 with
  ``Retry-After``; one that does not answer in time → 504; an upstream 5xx → 502 without its body (a 503
  problem+json, the query side's "not there yet", passes through); an upstream 4xx problem passes through as is;
- a streaming route's answer is relayed chunk by chunk as the upstream sends it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from eventledger_gateway import metrics
from eventledger_gateway.auth import Principal
from eventledger_gateway.context import RequestIds
from eventledger_gateway.problems import Problem
from eventledger_gateway.routetable import Route, Upstream
from eventledger_gateway.translation import problem_for_transport_error, translate_answer
from eventledger_gateway.transport import LeanHTTPTransport
from eventledger_runtime.settings import GatewaySettings

log = logging.getLogger(__name__)

FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "idempotency-key", "x-min-position", "tracestate")
UPSTREAMS: tuple[Upstream, ...] = ("command", "query", "audit", "admin")


class Upstreams:
    """One pooled ``httpx.AsyncClient`` per upstream address. Create inside the app's lifespan; ``aclose`` after."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._timeout = httpx.Timeout(
            settings.upstream_timeout_seconds,
            connect=settings.upstream_connect_timeout_seconds,
            pool=settings.upstream_pool_timeout_seconds,
        )
        self._stream_timeout = httpx.Timeout(
            settings.stream_idle_timeout_seconds,
            connect=settings.upstream_connect_timeout_seconds,
            pool=settings.upstream_pool_timeout_seconds,
        )
        by_url: dict[str, httpx.AsyncClient] = {}
        served: dict[str, list[str]] = {}
        self._clients: dict[Upstream, httpx.AsyncClient] = {}
        for upstream in UPSTREAMS:
            url = settings.upstream_url(upstream)
            if url not in by_url:
                transport = LeanHTTPTransport(max_connections=settings.upstream_max_connections)
                by_url[url] = httpx.AsyncClient(base_url=url, transport=transport, timeout=self._timeout)
            served.setdefault(url, []).append(upstream)
            self._clients[upstream] = by_url[url]
        self._distinct = {"+".join(served[url]): client for url, client in by_url.items()}

    async def aclose(self) -> None:
        for client in self._distinct.values():
            await client.aclose()

    def distinct(self) -> dict[str, httpx.AsyncClient]:
        """One client per distinct address, named by the upstreams it serves (``query+audit+admin``)."""
        return dict(self._distinct)

    async def forward(self, request: Request, route: Route, principal: Principal, body: bytes | None) -> Response:
        ids: RequestIds = request.state.ids
        client = self._clients[route.upstream]
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        query = request.scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        outgoing = client.build_request(
            route.method,
            target,
            headers=_upstream_headers(request, principal, ids),
            content=body,
            timeout=self._stream_timeout if route.streaming else self._timeout,
        )
        try:
            answer = await client.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            raise self._failure(route, exc) from None
        if route.streaming and answer.status_code < 300:
            return _relay_stream(answer, route)
        try:
            content = await answer.aread()
        except httpx.HTTPError as exc:
            raise self._failure(route, exc) from None
        finally:
            await answer.aclose()
        return translate_answer(
            route, answer.status_code, answer.headers, content, instance=request.url.path, request_id=ids.request_id
        )

    def _failure(self, route: Route, exc: httpx.HTTPError) -> Problem:
        problem = problem_for_transport_error(route, exc, self._settings.upstream_retry_after_seconds)
        metrics.UPSTREAM_ERRORS.labels(route.upstream, problem.code).inc()
        log.warning("%s service failed on %s %s: %r", route.upstream, route.method, route.path, exc)
        return problem


def _upstream_headers(request: Request, principal: Principal, ids: RequestIds) -> list[tuple[bytes, bytes]]:
    headers = {
        "x-actor": principal.subject,
        "x-request-id": ids.request_id,
        "x-correlation-id": str(ids.correlation_id),
        "traceparent": ids.traceparent,
        # The internal hop is not worth compressing, and an encoded body must never be relayed without its header.
        "accept-encoding": "identity",
    }
    for name in FORWARDED_REQUEST_HEADERS:
        value = request.headers.get(name)
        if value is not None:
            headers[name] = value
    # Passed on as the very bytes the client sent (Starlette decoded them as latin-1): a header that is not ASCII is
    # the upstream's to refuse with a named 422, never a 500 of the gateway's own encoding.
    return [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]


def _relay_stream(answer: httpx.Response, route: Route) -> StreamingResponse:
    """Relay an event stream as it arrives; closing the client's side closes the upstream's."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            metrics.UPSTREAM_ERRORS.labels(route.upstream, "stream_interrupted").inc()
            log.warning("%s stream %s ended early: %r", route.upstream, route.path, exc)
        finally:
            await answer.aclose()

    headers = {name: answer.headers[name] for name in ("cache-control", "x-read-position") if name in answer.headers}
    headers.setdefault("cache-control", "no-cache")
    headers["x-accel-buffering"] = "no"
    return StreamingResponse(
        chunks(),
        status_code=answer.status_code,
        headers=headers,
        media_type=answer.headers.get("content-type", "text/event-stream"),
        background=BackgroundTask(answer.aclose),
    )
