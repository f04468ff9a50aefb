"""The gateway's ASGI app. Nothing connects at import: clients are created in the lifespan and closed after it.

``create_app(settings, postgres_dsn=...)`` is the one place that wires the gateway: the authorization server (its
clients and signing keys in PostgreSQL, its revocation list in Redis, ADR 0024), the token verifier, the rate
limiter on Redis, the pooled upstream clients, one route per row of the route table, the operations endpoints and
the OpenAPI document. Without ``postgres_dsn`` (unit tests, a development gateway without a database) the clients
and keys are kept in memory, for this process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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

from eventledger_gateway import operations, problems, security
from eventledger_gateway.apidoc import build_openapi
from eventledger_gateway.auth import TokenVerifier
from eventledger_gateway.gateway import Gateway
from eventledger_gateway.middleware import ROUTE_TEMPLATE_KEY, RequestContextMiddleware
from eventledger_gateway.oauth import routes as oauth_routes
from eventledger_gateway.oauth.clients import ClientRegistry, InMemoryClientRegistry, SecretHasher
from eventledger_gateway.oauth.keys import InMemorySigningKeyStore, KeyRing, SigningKeyStore
from eventledger_gateway.oauth.postgres import (
    PostgresClientRegistry,
    PostgresSigningKeyStore,
    migrate_oauth_tables,
    open_pool,
)
from eventledger_gateway.oauth.revocation import InMemoryRevocationList, RedisRevocationList, RevocationList
from eventledger_gateway.oauth.server import AuthorizationServer
from eventledger_gateway.ratelimit import RateLimiter, RedisTokenBucket, Unlimited
from eventledger_gateway.routetable import ROUTES, Route
from eventledger_gateway.upstream import Upstreams
from eventledger_runtime.settings import GatewaySettings

DASHBOARD = Path(__file__).parent / "dashboard"
log = logging.getLogger(__name__)


def create_app(settings: GatewaySettings | None = None, *, postgres_dsn: str | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    pool = open_pool(postgres_dsn) if postgres_dsn else None
    clients: ClientRegistry = InMemoryClientRegistry() if pool is None else PostgresClientRegistry(pool)
    key_store: SigningKeyStore = InMemorySigningKeyStore() if pool is None else PostgresSigningKeyStore(pool)
    key_ring = KeyRing(
        key_store,
        encryption_key=settings.key_encryption_key.get_secret_value(),
        token_lifetime_seconds=settings.access_token_ttl_seconds + settings.jwt_leeway_seconds,
        rotation_seconds=settings.signing_key_rotation_seconds,
        refresh_seconds=settings.signing_key_refresh_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis_client = _redis(settings) if settings.rate_limit_enabled else None
        limiter, token_limiter, revocations = _shared_state(settings, redis_client)
        upstreams = Upstreams(settings)
        app.state.redis = redis_client
        app.state.upstreams = upstreams
        app.state.key_ring = key_ring
        app.state.token_limiter = token_limiter
        app.state.authorization_server = AuthorizationServer(
            clients,
            key_ring,
            revocations,
            SecretHasher(),
            issuer=settings.oauth_issuer,
            audience=settings.oauth_audience,
            token_lifetime_seconds=settings.access_token_ttl_seconds,
            revocation_hold_seconds=settings.access_token_ttl_seconds + settings.jwt_leeway_seconds,
        )
        app.state.gateway = Gateway(
            TokenVerifier(settings, key_ring, revocations),
            limiter,
            upstreams,
            max_body_bytes=settings.max_body_bytes,
            retry_after_seconds=settings.upstream_retry_after_seconds,
        )
        if pool is not None:
            await pool.open(wait=False)
        keeper = _KeyKeeper(key_ring, postgres_dsn, settings.signing_key_refresh_seconds)
        await keeper.step()  # the first key before the first request, when the database answers
        keeping = asyncio.create_task(keeper.run(), name="signing-keys")
        try:
            yield
        finally:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
            await upstreams.aclose()
            if redis_client is not None:
                await redis_client.aclose()
            if pool is not None:
                await pool.close()

    app = FastAPI(
        title="EventLedger API",
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        # The server span is our middleware's (its trace id is the correlation id: ADR 0032), not FastAPI's own.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    problems.install(app)
    app.add_middleware(RequestContextMiddleware)
    security.install(app, settings)  # outside the ids layer: its last-resort 500 gets the headers too
    app.include_router(operations.router)
    app.include_router(oauth_routes.public)
    app.include_router(oauth_routes.admin)
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


class _KeyKeeper:
    """Keeps the key ring current: migrates the tables once, then every ``every`` seconds reloads the published
    keys and rotates a key that is due. A failure (PostgreSQL down) is logged once per outage and retried; the keys
    already loaded keep verifying tokens meanwhile."""

    def __init__(self, ring: KeyRing, postgres_dsn: str | None, every: float) -> None:
        self._ring = ring
        self._dsn = postgres_dsn
        self._every = every
        self._migrated = postgres_dsn is None
        self._failing = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            await self.step()

    async def step(self) -> None:
        try:
            if not self._migrated and self._dsn is not None:
                await asyncio.to_thread(migrate_oauth_tables, self._dsn)
                self._migrated = True
            await self._ring.maintain()
        except Exception as exc:  # logged, and retried at the next step: nothing is lost
            if not self._failing:
                log.warning("signing keys cannot be loaded or rotated (retrying): %s", str(exc)[:300])
            self._failing = True
        else:
            if self._failing:
                log.info("signing keys loaded again")
            self._failing = False


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


def _shared_state(
    settings: GatewaySettings, redis_client: aioredis.Redis | None
) -> tuple[RateLimiter, RateLimiter, RevocationList]:
    """What every replica shares through Redis: the request limiter, the token-request limiter (per client id),
    the revocation list. Without Redis (rate limiting off: tests), no limits and a list of this process's own."""
    if redis_client is None:
        return Unlimited(), Unlimited(), InMemoryRevocationList()
    prefix = settings.rate_limit_key_prefix
    return (
        RedisTokenBucket(
            redis_client, rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst, key_prefix=prefix
        ),
        RedisTokenBucket(
            redis_client,
            rate=settings.token_requests_per_second,
            burst=settings.token_request_burst,
            key_prefix=prefix + "token:",
        ),
        RedisRevocationList(redis_client, key_prefix=prefix + "revoked:"),
    )


def _redis(settings: GatewaySettings) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        # One immediate retry (a pooled connection a restarted Redis closed), never a backoff: a slow limiter
        # would slow every request.
        retry=Retry(NoBackoff(), 1),
    )
