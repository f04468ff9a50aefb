"""Forwarding a request to the service that answers it, over pooled keep-alive connections.

Contract of :meth:`Upstreams.forward`:
- the upstream gets the method, the raw path and query string, the body, and only these headers: ``Content-Type``,
  ``Accept``, ``Idempotency-Key``, ``X-Min-Position``, ``tracestate``, plus the gateway's ``X-Actor`` (the token's
  subject; a client's own ``X-Actor`` is never passed on), ``X-Request-Id``, ``X-Correlation-Id`` and
  ``traceparent``;
- the client gets the upstream's status and body with ``Content-Type``, ``X-Read-Position``, ``Retry-After``,
  ``Idempotent-Replayed``, ``Location`` and ``Cache-Control`` (which :mod:`eventledger_gateway.security` then
  replaces with ``no-store`` on every API answer: ADR 0023);
- errors are mapped by :mod:`eventledger_gateway.translation`: an upstream that cannot be reached → 503 with
  ``Retry-After``; one that does not answer in time → 504; an upstream 5xx → 502 without its body (a 503
  problem+json, the query side's "not there yet", passes through); an upstream 4xx problem passes through as is;
- a streaming route's answer is relayed chunk by chunk as the upstream sends it;
- each attempt goes through the upstream address's circuit breaker (:mod:`eventledger_gateway.breaker`): while
  it is open the answer is 503 ``upstream-circuit-open`` with ``Retry-After`` at once, nothing sent;
- a request that is harmless to repeat (GET, or one with an ``Idempotency-Key``) is sent again after a failure of
  a transport kind (:mod:`eventledger_gateway.retries`), at most ``upstream_retries`` times, after a short jittered
  pause, and only while the route's deadline (``upstream_timeout_seconds`` from the first attempt) leaves time;
  otherwise the last failure is answered as above;
- with tracing on (ADR 0032), the exchange (all its attempts) is a client span, and the ``traceparent`` sent is that
  span's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from opentelemetry.trace import SpanKind, StatusCode
from starlette.background import BackgroundTask

from eventledger_gateway import metrics
from eventledger_gateway.auth import Principal
from eventledger_gateway.breaker import Breakers, CircuitOpen, UpstreamBreaker
from eventledger_gateway.context import RequestIds
from eventledger_gateway.problems import Problem
from eventledger_gateway.retries import AttemptFailed, is_proxy_failure, may_repeat, pause_before, transport_failure
from eventledger_gateway.routetable import Route, Upstream
from eventledger_gateway.translation import (
    problem_for_open_circuit,
    problem_for_transport_error,
    translate_answer,
)
from eventledger_gateway.transport import LeanHTTPTransport
from eventledger_runtime import tracing
from eventledger_runtime.http_service import is_draining
from eventledger_runtime.settings import GatewaySettings

log = logging.getLogger(__name__)

FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "idempotency-key", "x-min-position", "tracestate")
UPSTREAMS: tuple[Upstream, ...] = ("command", "query", "audit", "admin")


@dataclass(frozen=True)
class _Target:
    """One upstream address: its pooled client, the client's transport, and its circuit breaker. Requests go to the
    transport straight (ADR 0036): the client's redirect, auth, cookie and URL-merging layers cost about an eighth
    of the gateway's CPU per request and do nothing for a hop to one of our own services; the client stays for the
    operations endpoints (``/readyz`` asks each upstream through it)."""

    client: httpx.AsyncClient
    transport: LeanHTTPTransport
    breaker: UpstreamBreaker


class Upstreams:
    """One pooled ``httpx.AsyncClient`` and one circuit breaker per upstream address. Create inside the app's
    lifespan; ``aclose`` after."""

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
        breakers = Breakers(
            threshold=settings.breaker_failure_threshold, cooldown_seconds=settings.breaker_cooldown_seconds
        )
        served: dict[str, list[str]] = {}
        for upstream in UPSTREAMS:
            served.setdefault(settings.upstream_url(upstream), []).append(upstream)
        by_url: dict[str, _Target] = {}
        for url, names in served.items():
            transport = LeanHTTPTransport(max_connections=settings.upstream_max_connections)
            client = httpx.AsyncClient(base_url=url, transport=transport, timeout=self._timeout)
            by_url[url] = _Target(client, transport, breakers.breaker("+".join(names)))
        self._targets = {upstream: by_url[settings.upstream_url(upstream)] for upstream in UPSTREAMS}
        # What httpx would make of base address + path: the address's own path prefix, if any, comes first.
        self._bases = {upstream: settings.upstream_url(upstream).rstrip("/") for upstream in UPSTREAMS}
        self._distinct = {target.breaker.name: target.client for target in by_url.values()}

    async def aclose(self) -> None:
        for client in self._distinct.values():
            await client.aclose()

    def distinct(self) -> dict[str, httpx.AsyncClient]:
        """One client per distinct address, named by the upstreams it serves (``query+audit+admin``)."""
        return dict(self._distinct)

    async def forward(self, request: Request, route: Route, principal: Principal, body: bytes | None) -> Response:
        if not tracing.enabled():
            return await self._forward(request, route, principal, body)
        with tracing.tracer().start_as_current_span(
            route.method,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": route.method,
                "url.path": request.url.path,
                "server.address": route.upstream,
                "http.route": route.path,
            },
        ) as span:
            answer = await self._forward(request, route, principal, body)
            span.set_attribute("http.response.status_code", answer.status_code)
            if answer.status_code >= 500:
                span.set_status(StatusCode.ERROR)
            return answer

    async def _forward(self, request: Request, route: Route, principal: Principal, body: bytes | None) -> Response:
        ids: RequestIds = request.state.ids
        target = self._targets[route.upstream]
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        query = request.scope.get("query_string", b"")
        path = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        timeout = self._stream_timeout if route.streaming else self._timeout
        outgoing = httpx.Request(
            route.method,
            self._bases[route.upstream] + path,
            headers=_upstream_headers(request, principal, ids),
            content=body,
            extensions={"timeout": timeout.as_dict()},
        )
        deadline = time.monotonic() + self._settings.upstream_timeout_seconds
        retries = self._settings.upstream_retries if may_repeat(route.method, outgoing.headers) else 0
        failed: AttemptFailed | None = None
        for extra in range(retries + 1):
            if failed is not None:
                pause = pause_before(extra)
                left = deadline - time.monotonic() - pause
                if left <= 0:
                    break
                metrics.UPSTREAM_RETRIES.labels(route.upstream, failed.reason).inc()
                await asyncio.sleep(pause)
                outgoing.extensions["timeout"] = _within(outgoing.extensions["timeout"], left, route.streaming)
            try:
                answer, content = await self._attempt(target, outgoing, route)
            except CircuitOpen as refused:
                if failed is not None:
                    break  # the circuit opened between two attempts: answer what the last one got
                metrics.UPSTREAM_ERRORS.labels(route.upstream, "upstream_circuit_open").inc()
                raise problem_for_open_circuit(route, refused.retry_after_seconds) from None
            except AttemptFailed as failure:
                failed = failure
                continue
            except httpx.HTTPError as exc:
                raise self._failure(route, exc) from None
            if content is None:
                return _relay_stream(answer, route, request)
            return translate_answer(
                route, answer.status_code, answer.headers, content, instance=request.url.path, request_id=ids.request_id
            )
        assert failed is not None
        if failed.error is not None:
            raise self._failure(route, failed.error)
        metrics.UPSTREAM_ERRORS.labels(route.upstream, failed.reason).inc()
        return translate_answer(
            route, failed.status, failed.headers, failed.content, instance=request.url.path, request_id=ids.request_id
        )

    async def _attempt(
        self, target: _Target, outgoing: httpx.Request, route: Route
    ) -> tuple[httpx.Response, bytes | None]:
        """One exchange through the circuit breaker: the answer and its body (None: a stream to relay as it comes).

        Raises :class:`AttemptFailed` for a failure (it counts against the circuit), ``CircuitOpen`` when nothing
        was sent, and any other ``httpx.HTTPError`` as it came.
        """
        async with target.breaker.attempt():
            try:
                answer = await target.transport.handle_async_request(outgoing)
                answer.request = outgoing
            except httpx.HTTPError as exc:
                raise transport_failure(exc) or exc from None
            if route.streaming and answer.status_code < 300:
                return answer, None
            try:
                content = await answer.aread()
            except httpx.HTTPError as exc:
                raise transport_failure(exc) or exc from None
            finally:
                await answer.aclose()
            if is_proxy_failure(answer.status_code, answer.headers):
                raise AttemptFailed(
                    f"http_{answer.status_code}", status=answer.status_code, headers=answer.headers, content=content
                )
            return answer, content

    def _failure(self, route: Route, exc: httpx.HTTPError) -> Problem:
        problem = problem_for_transport_error(route, exc, self._settings.upstream_retry_after_seconds)
        metrics.UPSTREAM_ERRORS.labels(route.upstream, problem.code).inc()
        log.warning("%s service failed on %s %s: %r", route.upstream, route.method, route.path, exc)
        return problem


def _within(timeout: dict[str, float | None], seconds: float, streaming: bool) -> dict[str, float | None]:
    """The timeouts of an extra attempt: none longer than what is left of the route's deadline (a stream's idle
    read timeout excepted: it bounds the silence between frames, not the exchange)."""
    capped: dict[str, float | None] = {
        name: seconds if value is None else min(value, seconds) for name, value in timeout.items()
    }
    if streaming:
        capped["read"] = timeout["read"]
    return capped


def _upstream_headers(request: Request, principal: Principal, ids: RequestIds) -> list[tuple[bytes, bytes]]:
    headers = {
        "x-actor": principal.subject,
        "x-request-id": ids.request_id,
        "x-correlation-id": str(ids.correlation_id),
        "traceparent": (tracing.current_traceparent() if tracing.enabled() else None) or ids.traceparent,
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


def _relay_stream(answer: httpx.Response, route: Route, request: Request) -> StreamingResponse:
    """Relay an event stream as it arrives; closing the client's side closes the upstream's. A draining gateway ends
    it after the next chunk (the client reconnects, through a gateway that is not stopping)."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_raw():
                yield chunk
                if is_draining(request.app):
                    return
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
