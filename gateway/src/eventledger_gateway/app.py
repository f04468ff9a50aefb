"""The gateway's ASGI app. Nothing connects at import: clients are created in the lifespan and closed after it.

``create_app(settings)`` is the one place that wires the gateway: the token verifier, the rate limiter on Redis,
the pooled upstream clients, one route per row of the route table, the operations endpoints and the OpenAPI
document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.routing import Route as StarletteRoute

from eventledger_gateway import operations, problems
from eventledger_gateway.apidoc import build_openapi
from eventledger_gateway.auth import TokenVerifier
from eventledger_gateway.gateway import Gateway
from eventledger_gateway.middleware import ROUTE_TEMPLATE_KEY, RequestContextMiddleware
from eventledger_gateway.ratelimit import RateLimiter, RedisTokenBucket, Unlimited
from eventledger_gateway.routetable import ROUTES, Route
from eventledger_gateway.upstream import Upstreams
from eventledger_runtime.settings import GatewaySettings

DASHBOARD = Path(__file__).parent / "dashboard"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    verifier = TokenVerifier(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis_client = _redis(settings) if settings.rate_limit_enabled else None
        limiter: RateLimiter = Unlimited()
        if redis_client is not None:
            limiter = RedisTokenBucket(
                redis_client,
                rate=settings.rate_limit_per_second,
                burst=settings.rate_limit_burst,
                key_prefix=settings.rate_limit_key_prefix,
            )
        upstreams = Upstreams(settings)
        app.state.redis = redis_client
        app.state.upstreams = upstreams
        app.state.gateway = Gateway(
            verifier,
            limiter,
            upstreams,
            max_body_bytes=settings.max_body_bytes,
            retry_after_seconds=settings.upstream_retry_after_seconds,
        )
        try:
            yield
        finally:
            await upstreams.aclose()
            if redis_client is not None:
                await redis_client.aclose()

    app = FastAPI(
        title="EventLedger API",
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    problems.install(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(operations.router)
    # The dashboard page: static files; every call it makes goes through the routes below with the user's token.
    app.mount("/dashboard", StaticFiles(directory=DASHBOARD, html=True), name="dashboard")
    app.router.routes.append(StarletteRoute("/", _to_dashboard, methods=["GET"], include_in_schema=False))
    for route in ROUTES:
        app.router.routes.append(_public_route(route))
    document: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not document:
            document.update(build_openapi(app))
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    openapi()  # fail at start-up, not at the first /docs, if a route is undocumented
    return app


async def _to_dashboard(_request: Request) -> Response:
    return RedirectResponse("/dashboard/")


def _public_route(route: Route) -> StarletteRoute:
    """A plain Starlette route (no FastAPI parameter parsing: the gateway reads nothing of the request itself)."""

    async def endpoint(request: Request) -> Response:
        request.scope[ROUTE_TEMPLATE_KEY] = route.path
        gateway: Gateway = request.app.state.gateway
        return await gateway.handle(request, route)

    endpoint.__name__ = route.name
    public = StarletteRoute(route.path, endpoint, methods=[route.method], name=route.name)
    if public.methods is not None:
        public.methods.discard("HEAD")  # the upstreams are asked GET; a HEAD would be answered with a body
    return public


def _redis(settings: GatewaySettings) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        # One immediate retry (a pooled connection a restarted Redis closed), never a backoff: a slow limiter
        # would slow every request.
        retry=Retry(NoBackoff(), 1),
    )
