"""The operations endpoints of an HTTP service (FastAPI): what ``ops_http`` serves for the workers.

``/healthz`` (the process answers), ``/readyz`` (the service's own check of its dependencies) and ``/metrics``
(Prometheus, the default registry).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def install_operations(app: FastAPI, readyz: Callable[[], Response]) -> None:
    """Add the three endpoints to ``app`` under the ``operations`` tag; ``readyz`` answers ``/readyz``."""
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["operations"])
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["operations"])


def healthz() -> dict[str, str]:
    return {"status": "ok"}


def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
