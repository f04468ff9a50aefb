"""The query service application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from eventledger_query.admin import Operations
from eventledger_query.api import problems
from eventledger_query.api.admin_routes import router as admin_router
from eventledger_query.api.routes import router
from eventledger_query.services import Readers
from eventledger_runtime.http_operations import install_operations


def create_app(readers: Readers) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            readers.close()

    app = FastAPI(
        title="EventLedger query service",
        version="1.0.0",
        description="Reads of the ledger's read models (internal: reached through the gateway).",
        lifespan=lifespan,
    )
    app.state.readers = readers
    app.state.operations = Operations(readers.postgres.pool)
    problems.install(app)
    app.include_router(router)
    app.include_router(admin_router)

    def readyz() -> Response:
        checks = {
            "postgres": readers.postgres.ready,
            "redis": readers.redis.ready,
            "elasticsearch": readers.search.ready,
        }
        failed = {}
        for name, check in checks.items():
            try:
                check()
            except Exception as exc:
                failed[name] = str(exc)[:200]
        if failed:
            return JSONResponse({"status": "not ready", "failed": failed}, status_code=503)
        return JSONResponse({"status": "ready"})

    install_operations(app, readyz)
    return app
