"""Every process logs JSON lines with time, level, service, trace and span ids, correlation id and message
(ADR 0032)."""

from __future__ import annotations

import logging
import re
import sys

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider

from eventledger_runtime import tracing
from eventledger_runtime.logs import JsonLineFormatter, correlated

pytestmark = pytest.mark.unit

KEYS = ["time", "level", "service", "logger", "message", "trace_id", "span_id", "correlation_id"]


def _line(record: logging.LogRecord) -> dict[str, object]:
    text = JsonLineFormatter("projection-redis").format(record)
    assert "\n" not in text
    parsed = orjson.loads(text)
    assert isinstance(parsed, dict)
    return parsed


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("eventledger.test")
    return logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, args, None, extra=extra)


def test_a_line_has_the_keys_in_order_and_the_formatted_message() -> None:
    line = _line(_record("applied %d events\nof %s", 3, "transfers"))
    assert list(line) == KEYS
    assert line["message"] == "applied 3 events\nof transfers"
    assert (line["level"], line["service"], line["logger"]) == ("WARNING", "projection-redis", "eventledger.test")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(line["time"]))
    assert (line["trace_id"], line["span_id"], line["correlation_id"]) == (None, None, None)


def test_the_current_span_and_correlation_are_on_the_line() -> None:
    with (
        tracing.recording_to(TracerProvider()),
        tracing.tracer().start_as_current_span("apply") as span,
        correlated("6f1c0e52-4a5e-4c39-9a4e-0c1c5b2f7a10"),
    ):
        line = _line(_record("hello"))
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert line["correlation_id"] == "6f1c0e52-4a5e-4c39-9a4e-0c1c5b2f7a10"


def test_extra_fields_follow_and_values_json_cannot_hold_become_text() -> None:
    line = _line(_record("parked", position=42, partitions={3}))
    assert list(line)[len(KEYS) :] == ["position", "partitions"]
    assert (line["position"], line["partitions"]) == (42, "{3}")


def test_an_exception_is_one_field_of_the_same_line() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "unexpected", (), sys.exc_info())
    line = _line(record)
    exception = str(line["exception"])
    assert exception.startswith("Traceback (most recent call last):")
    assert exception.endswith("ValueError: bad\nvalue")
