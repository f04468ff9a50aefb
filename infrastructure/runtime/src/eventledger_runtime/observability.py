"""What every process calls first (ADR 0032): JSON log lines naming it, and its traces exported when an OTLP
endpoint is configured (invalid settings: the process's usual exit with status 2 and the reason)."""

from __future__ import annotations

import logging

from eventledger_runtime import logs, tracing
from eventledger_runtime.settings import TelemetrySettings, settings_or_exit


def observe_as(service: str, *, level: int = logging.INFO, telemetry: TelemetrySettings | None = None) -> bool:
    """Log as ``service`` at ``level``; answers whether its spans are exported."""
    logs.log_as(service, level=level)
    return tracing.configure_tracing(service, telemetry or settings_or_exit(service).telemetry)
