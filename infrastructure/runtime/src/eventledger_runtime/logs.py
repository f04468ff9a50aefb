"""Every process logs JSON lines (ADR 0032).

Contract of :class:`JsonLineFormatter`: one line per record, a JSON object with, in this order, ``time`` (UTC,
ISO 8601 with milliseconds), ``level`` (``INFO``…), ``service``, ``logger``, ``message`` (the formatted message),
``trace_id`` and ``span_id`` (of the span current where the record was made, lower-case hex; null without one),
``correlation_id`` (the one :func:`correlated` set in this context; null without one), then every ``extra=`` field of
the call (values JSON cannot hold become their ``str``), then ``exception`` (the formatted traceback) when the record
carries one. A line never spans two lines: newlines inside values are escaped, as JSON does.
"""

from __future__ import annotations

import contextlib
import logging
import logging.config
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import orjson
from opentelemetry import trace

CORRELATION_ID: ContextVar[str | None] = ContextVar("eventledger_correlation_id", default=None)
"""The correlation id of the work in hand (a request, an event being applied)."""

# What every LogRecord has; anything else on a record came from ``extra=`` and is written as a field of its own.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


@contextlib.contextmanager
def correlated(correlation_id: object) -> Iterator[None]:
    """Log records made inside carry ``correlation_id`` (``None``: none)."""
    token = CORRELATION_ID.set(None if correlation_id is None else str(correlation_id))
    try:
        yield
    finally:
        CORRELATION_ID.reset(token)


class JsonLineFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        millis = int((record.created - seconds) * 1000)
        span = trace.get_current_span().get_span_context()
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": format(span.trace_id, "032x") if span.is_valid else None,
            "span_id": format(span.span_id, "016x") if span.is_valid else None,
            "correlation_id": CORRELATION_ID.get(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def log_as(service: str, *, level: int = logging.INFO) -> None:
    """Log at ``level`` and above to stderr as JSON lines naming ``service``; replaces any handler the root logger
    had (a second call re-configures: the last service name wins)."""
    logging.config.dictConfig(dict_config(service, level=level))
    logging.captureWarnings(True)


def dict_config(service: str, *, level: int = logging.INFO) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` of :func:`log_as`, for frameworks that set logging up themselves (the
    stream job's faust worker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLineFormatter, "service": service}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": sys.stderr}},
        "root": {"level": logging.getLevelName(level), "handlers": ["stderr"]},
    }


LIBRDKAFKA = logging.getLogger("librdkafka")


def kafka_client_logging() -> dict[str, Any]:
    """The confluent-kafka client setting that sends librdkafka's own log lines through Python logging (as JSON
    lines, served by the client's poll) instead of writing plain text to stderr; merge it into every client's
    configuration."""
    return {"logger": LIBRDKAFKA}
