"""How every HTTP service (command, query, gateway) runs in the foreground: one log format, one uvicorn setup, and
one way to stop: drain, then exit 0.

Contract of :func:`serve_http` on SIGTERM or SIGINT (ADR 0018):
1. the app's ``state.draining`` turns true at once: ``/readyz`` answers 503 ``draining`` (see :func:`is_draining`),
   so a load balancer that checks it stops sending new work, and long streams end;
2. while any request is in flight, for at most :data:`DRAIN_SECONDS`, the service goes on serving (a balancer that
   has not noticed yet still gets answers, not refused connections);
3. then uvicorn's own shutdown: the listening socket closes, idle keep-alive connections close, requests still in
   flight get :data:`CLOSE_SECONDS` more before they are cancelled; the lifespan's shutdown closes the pools;
4. the process exits 0 (uvicorn would raise the signal again after its shutdown and die of it).
A second SIGINT skips what is left of the drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from eventledger_runtime.observability import observe_as

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0
"""How long a draining service waits for its requests in flight before it stops accepting (the supervisor sends
SIGKILL 20 s after SIGTERM)."""
CLOSE_SECONDS = 5.0
"""How long requests still in flight may take after the listening socket closed."""


def log_as(service: str) -> None:
    """Log at INFO to stderr as JSON lines naming ``service`` (:mod:`eventledger_runtime.logs`), and export traces
    when an endpoint is configured (:mod:`eventledger_runtime.tracing`)."""
    observe_as(service)


def is_draining(app: Any) -> bool:
    """Whether the service that runs ``app`` was asked to stop and is draining its requests in flight."""
    return bool(getattr(app.state, "draining", False))


def serve_http(app: Any, *, host: str, port: int, **options: Any) -> None:
    """Serve ``app`` until stopped, then drain (see the module contract); uvicorn logs only warnings and no access
    lines (the metrics count requests); its log records go through the root logger's JSON lines. The loop is uvloop
    and the HTTP/1.1 parser httptools (ADR 0036: they halve a trivial FastAPI endpoint's CPU per request, against
    asyncio's loop and h11)."""
    app.state.draining = False
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(CLOSE_SECONDS),
        **options,
    )
    DrainingServer(config, app).run()


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain in front of its shutdown, exiting normally after a signal."""

    def __init__(self, config: uvicorn.Config, app: Any) -> None:
        super().__init__(config)
        self._app = app

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._app.state.draining = True
        began = time.monotonic()
        if self.server_state.tasks:
            log.info("stopping: /readyz answers 503; %d request(s) in flight", len(self.server_state.tasks))
        deadline = began + DRAIN_SECONDS
        while (tasks := set(self.server_state.tasks)) and not self.force_exit and time.monotonic() < deadline:
            # Requests keep coming until the balancer notices /readyz: wait for these, then look again.
            await asyncio.wait(tasks, timeout=min(0.25, deadline - time.monotonic()))
        if self.server_state.tasks:
            log.warning(
                "%d request(s) still in flight after %.0f s of draining", len(self.server_state.tasks), DRAIN_SECONDS
            )
        await super().shutdown(sockets)
