"""The query service application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from eventledger_query.api import problems
from eventledger_query.api.admin_routes import router as admin_router
from eventledger_query.api.routes import router
from eventledger_query.services import Readers, operations
from eventledger_runtime.http_operations import service_app


def create_app(readers: Readers) -> FastAPI:
    admin = operations(readers)

    def close() -> None:
        admin.close()
        readers.close()

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

    app = service_app(
        title="EventLedger query service",
        description="Reads of the ledger's read models (internal: reached through the gateway).",
        routers=[router, admin_router],
        readyz=readyz,
        close=close,
    )
    app.state.readers = readers
    app.state.operations = admin
    problems.install(app)
    return app
