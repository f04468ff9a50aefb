"""``/healthz`` (the process answers), ``/readyz`` (its dependencies answer) and ``/metrics`` (Prometheus).

Contract of ``/readyz``: 503 ``draining`` once the gateway was asked to stop (it finishes the requests in flight,
ADR 0018); otherwise 200 when Redis (if rate limiting is on) answers PING and every distinct upstream answers
its ``/healthz`` within the connect timeout; otherwise 503 naming what does not answer. Upstream readiness is not
cascaded (a service that is up but whose database is down is that service's own ``/readyz`` to report).
"""

from __future__ import annotations

import asyncio

import httpx
import redis.asyncio as aioredis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from eventledger_runtime.http_service import is_draining

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The gateway process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Redis and the upstream services answer", responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> Response:
    state = request.app.state
    if is_draining(request.app):
        return JSONResponse({"status": "draining"}, status_code=503)
    checks: dict[str, asyncio.Task[str]] = {}
    async with asyncio.TaskGroup() as group:
        if state.redis is not None:
            checks["redis"] = group.create_task(_redis(state.redis))
        for name, client in state.upstreams.distinct().items():
            checks[name] = group.create_task(_upstream(client, state.settings.upstream_connect_timeout_seconds))
    results = {name: task.result() for name, task in checks.items()}
    ready = all(result == "ok" for result in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": results}, status_code=200 if ready else 503
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _redis(client: aioredis.Redis) -> str:
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


async def _upstream(client: httpx.AsyncClient, within_seconds: float) -> str:
    try:
        answer = await client.get("/healthz", timeout=within_seconds)
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok" if answer.status_code == 200 else f"answered {answer.status_code}"
