"""A tiny operations endpoint for worker processes: /healthz, /readyz and /metrics (Prometheus).

HTTP services expose the same paths through FastAPI; workers (the relay, projectors) have no web framework, so
they serve them from a daemon thread with the standard library. Requires prometheus_client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def serve_ops(
    host: str,
    port: int,
    ready: Callable[[], bool],
    *,
    status: Callable[[], dict[str, Any]] | None = None,
    actions: dict[str, Callable[[], None]] | None = None,
    stalled: Callable[[], str | None] | None = None,
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``ready`` answers /readyz (it should ask the dependencies).

    ``stalled`` answers why the worker is stalled, or None (``eventledger_runtime.watchdog``): a stalled worker is
    not ready, and /readyz says why.

    ``status`` answers ``GET /status`` as JSON; each of ``actions`` answers ``POST /<name>`` (e.g. pause, resume).
    Bind them to loopback or a private network only: they are not authenticated (the gateway's admin role guards
    the public way to them).
    """
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    posts = actions or {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._answer(200, b'{"status":"ok"}', "application/json")
            elif self.path == "/readyz":
                reason = stalled() if stalled is not None else None
                if reason is not None:
                    self._answer(503, json.dumps({"status": "stalled", "reason": reason}).encode(), "application/json")
                    return
                try:
                    is_ready = ready()
                except Exception:
                    is_ready = False
                body = b'{"status":"ready"}' if is_ready else b'{"status":"not ready"}'
                self._answer(200 if is_ready else 503, body, "application/json")
            elif self.path == "/metrics":
                self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/status" and status is not None:
                self._answer(200, json.dumps(status()).encode(), "application/json")
            else:
                self._answer(404, b'{"status":"not found"}', "application/json")

        def do_POST(self) -> None:
            action = posts.get(self.path.lstrip("/"))
            if action is None:
                self._answer(404, b'{"status":"not found"}', "application/json")
                return
            action()
            self._answer(200, json.dumps({"done": self.path.lstrip("/")}).encode(), "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: probes would flood the log."""

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="ops-http", daemon=True).start()
    return server
