"""The work of one public request: authenticate, authorize, admit (rate limit), read the body, forward.

Contract of :meth:`Gateway.handle`, in this order: 401 without a valid token, 403 without the route's role,
429 (``Retry-After``) when the subject's bucket is empty, 413 for a body over ``max_body_bytes``, then the upstream's
answer as :mod:`eventledger_gateway.upstream` maps it. When the rate limiter cannot decide, a fail-closed route
answers 503 (``Retry-After``) and a fail-open route goes through unmetered (ADR 0008).
"""

from __future__ import annotations

import logging
import time

from fastapi import Request
from fastapi.responses import Response

from eventledger_gateway import metrics
from eventledger_gateway.auth import Principal, TokenVerifier, authorize
from eventledger_gateway.problems import Problem
from eventledger_gateway.ratelimit import RateLimiter, RateLimiterUnavailable
from eventledger_gateway.routetable import Route
from eventledger_gateway.upstream import Upstreams

log = logging.getLogger(__name__)

_LOG_EVERY_SECONDS = 10.0


class Gateway:
    def __init__(
        self,
        verifier: TokenVerifier,
        limiter: RateLimiter,
        upstreams: Upstreams,
        *,
        max_body_bytes: int,
        retry_after_seconds: int,
    ) -> None:
        self.verifier = verifier
        self._limiter = limiter
        self._upstreams = upstreams
        self._max_body_bytes = max_body_bytes
        self._retry_after = retry_after_seconds
        self._last_limiter_warning = 0.0

    async def handle(self, request: Request, route: Route) -> Response:
        principal = await self.verifier.authenticate(request.headers.get("authorization"))
        authorize(principal, route.role)
        await self.admit(principal, route.path, fail_closed=route.fail_closed)
        body = await self._read_body(request) if route.has_body else None
        return await self._upstreams.forward(request, route, principal, body)

    async def admit(self, principal: Principal, path: str, *, fail_closed: bool) -> None:
        """Take one request from the subject's bucket: 429 when it is empty; when the limiter cannot decide, 503
        if ``fail_closed`` else let the request through unmetered."""
        try:
            decision = await self._limiter.acquire(principal.subject)
        except RateLimiterUnavailable as exc:
            policy = "closed" if fail_closed else "open"
            metrics.RATE_LIMITER_FAILURES.labels(policy).inc()
            self._warn_limiter_down(exc, policy)
            if fail_closed:
                raise Problem(
                    503,
                    "rate_limiter_unavailable",
                    "Service unavailable",
                    "the rate limiter cannot be reached, so requests that reach the event store are held back; "
                    "nothing was done, try again later",
                    headers={"Retry-After": str(self._retry_after)},
                ) from None
            return
        if not decision.allowed:
            metrics.RATE_LIMITED.labels(path).inc()
            raise Problem(
                429,
                "too_many_requests",
                "Too many requests",
                f"the rate limit of '{principal.subject}' is used up; try again in {decision.retry_after_header} s",
                headers={"Retry-After": decision.retry_after_header},
            )

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body_bytes:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self._max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> Problem:
        return Problem(
            413, "payload_too_large", "Payload too large", f"the body may hold at most {self._max_body_bytes} bytes"
        )

    def _warn_limiter_down(self, exc: RateLimiterUnavailable, policy: str) -> None:
        """Once every few seconds at most: an outage must show in the log without flooding it."""
        now = time.monotonic()
        if now - self._last_limiter_warning >= _LOG_EVERY_SECONDS:
            self._last_limiter_warning = now
            log.warning("rate limiter unavailable (%s); failing %s where routes say so", exc, policy)
