"""How every HTTP service (command, query, gateway) runs in the foreground: one log format, one uvicorn setup."""

from __future__ import annotations

import logging
from typing import Any


def log_as(service: str) -> None:
    """Log at INFO to stderr, each line naming ``service``."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s %(levelname)s {service} %(name)s %(message)s")


def serve_http(app: Any, *, host: str, port: int, **options: Any) -> None:
    """Serve ``app`` until stopped; uvicorn logs only warnings and no access lines (the metrics count requests)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, **options)
