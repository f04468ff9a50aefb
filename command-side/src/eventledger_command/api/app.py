"""The command service application: routes, errors, operations endpoints, background work."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from eventledger_command.api import problems
from eventledger_command.api.audit import router as audit_router
from eventledger_command.api.idempotency import CommandRunner
from eventledger_command.api.routes import router
from eventledger_command.application.audit import Auditor
from eventledger_command.bootstrap import Container
from eventledger_runtime.http_operations import install_operations


def create_app(container: Container, *, background: bool = True) -> FastAPI:
    """The FastAPI app over ``container``; ``background`` starts the expiry worker and the key purge."""
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if background:
            container.expiry.start(container.settings.expiry_interval_seconds)
            threading.Thread(target=_purge_keys, args=(container, stop), name="key-purge", daemon=True).start()
        try:
            yield
        finally:
            stop.set()
            container.close()

    app = FastAPI(
        title="EventLedger command service",
        version="1.0.0",
        description="Commands of the ledger (internal: reached through the gateway, which authenticates callers).",
        lifespan=lifespan,
    )
    app.state.runner = CommandRunner(container.bus, container.store)
    app.state.auditor = Auditor(container.store)
    app.state.container = container
    problems.install(app)
    app.include_router(router)
    app.include_router(audit_router)

    def readyz() -> Response:
        try:
            position = container.store.head_position()
        except Exception as exc:
            return JSONResponse({"status": "not ready", "reason": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ready", "head_position": position})

    install_operations(app, readyz)
    return app


def _purge_keys(container: Container, stop: threading.Event) -> None:
    retention = timedelta(hours=container.settings.idempotency_retention_hours)
    while not stop.wait(600):
        container.store.purge_idempotency(container.clock() - retention)
