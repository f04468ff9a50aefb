"""The command service application: routes, errors, operations endpoints, background work."""

from __future__ import annotations

import threading
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from eventledger_command.api import problems
from eventledger_command.api.admin import router as admin_router
from eventledger_command.api.audit import router as audit_router
from eventledger_command.api.idempotency import CommandRunner, Fingerprints
from eventledger_command.api.proofs import router as proofs_router
from eventledger_command.api.routes import router
from eventledger_command.application.audit import Auditor
from eventledger_command.application.erasure import HolderEraser
from eventledger_command.bootstrap import Container
from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_runtime.http_operations import service_app


def create_app(container: Container, *, background: bool = True) -> FastAPI:
    """The FastAPI app over ``container``; ``background`` starts the expiry worker and the key purge."""
    stop = threading.Event()

    def start() -> None:
        if background:
            container.expiry.start(container.settings.expiry_interval_seconds)
            threading.Thread(target=_purge_keys, args=(container, stop), name="key-purge", daemon=True).start()

    def close() -> None:
        stop.set()
        runner.close()
        container.close()

    runner = CommandRunner(
        container.bus,
        container.store,
        Fingerprints(container.personal.secrets()),
        blocking=not isinstance(container.store, InMemoryEventStore),
        threads=container.settings.pool_size,
    )

    def readyz() -> Response:
        try:
            position = container.store.head_position()
        except Exception as exc:
            return JSONResponse({"status": "not ready", "reason": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ready", "head_position": position})

    app = service_app(
        title="EventLedger command service",
        description="Commands of the ledger (internal: reached through the gateway, which authenticates callers).",
        routers=[router, audit_router, proofs_router, admin_router],
        readyz=readyz,
        close=close,
        start=start,
    )
    app.state.runner = runner
    app.state.auditor = Auditor(container.store, container.opener)
    app.state.eraser = HolderEraser(container.repository, container.keys, container.sealer)
    app.state.container = container
    problems.install(app)
    return app


def _purge_keys(container: Container, stop: threading.Event) -> None:
    retention = timedelta(hours=container.settings.idempotency_retention_hours)
    while not stop.wait(600):
        container.store.purge_idempotency(container.clock() - retention)
