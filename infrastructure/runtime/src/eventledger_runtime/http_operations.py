"""The FastAPI app of an internal HTTP service (command, query): its routers, its lifespan, and the operations
endpoints that ``ops_http`` serves for the workers too:

``/healthz`` (the process answers), ``/readyz`` (the service's own check of its dependencies) and ``/metrics``
(Prometheus, the default registry).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from eventledger_runtime import tracing
from eventledger_runtime.http_context import RequestContextMiddleware
from eventledger_runtime.http_service import is_draining


def service_app(
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    readyz: Callable[[], Response],
    close: Callable[[], None],
    start: Callable[[], None] = lambda: None,
) -> FastAPI:
    """The app of a service: its ``routers``, then the operations endpoints; ``start`` runs at startup and ``close``
    at shutdown (once started)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        start()
        try:
            yield
        finally:
            close()

    # FastAPI's own telemetry records each request's server span once a tracer provider is installed (ADR 0032):
    # not the probes and scrapes, which come every second or two and say nothing about a request's path; and no
    # spans of its own for dependency resolution and the endpoint call (the append span says what the time went to).
    telemetry: TelemetryConfig = {
        "exclude": tracing.is_probe,
        "operation_spans": False,
        "metrics": False,
        "logs": False,
    }
    app = FastAPI(title=title, version="1.0.0", description=description, lifespan=lifespan, telemetry=telemetry)
    for router in routers:
        app.include_router(router)
    install_operations(app, readyz)
    app.add_middleware(RequestContextMiddleware)  # outermost: the correlation id on the log lines (ADR 0032)
    return app


def install_operations(app: FastAPI, readyz: Callable[[], Response]) -> None:
    """Add the three endpoints to ``app`` under the ``operations`` tag; ``readyz`` answers ``/readyz``, except while
    the service drains (503 ``draining``: a load balancer must send it no new work)."""

    def ready(request: Request) -> Response:
        if is_draining(request.app):
            return JSONResponse({"status": "draining"}, status_code=503)
        return readyz()

    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"])
    app.add_api_route("/readyz", ready, methods=["GET"], tags=["operations"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["operations"])


def healthz() -> dict[str, str]:
    return {"status": "ok"}


def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
