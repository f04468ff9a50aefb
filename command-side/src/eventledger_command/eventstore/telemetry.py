"""The span around an event-store append (ADR 0032): named ``eventstore.append``, with the streams written and
the versions they were expected at, and once appended the positions and the streams' new versions. The events
keep the ``traceparent`` of this span (:func:`eventledger_runtime.tracing.current_traceparent`), which the relay
continues."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.trace import Span, SpanKind

from eventledger_command.eventstore.records import AppendRequest, AppendResult
from eventledger_runtime import tracing


@contextmanager
def append_span(request: AppendRequest, system: str) -> Iterator[Span]:
    with tracing.tracer().start_as_current_span(
        "eventstore.append",
        kind=SpanKind.CLIENT if system != "memory" else SpanKind.INTERNAL,
        attributes={
            "db.system.name": system,
            "db.operation.name": "append_events",
            "eventledger.streams": [write.stream_id for write in request.writes],
            "eventledger.expected_versions": [write.expected_version for write in request.writes],
            "eventledger.events": sum(len(write.events) for write in request.writes),
        },
    ) as span:
        yield span


def note_result(span: Span, result: AppendResult) -> None:
    span.set_attribute("eventledger.positions", list(result.positions))
    span.set_attribute("eventledger.stream_versions", [f"{s}@{v}" for s, v in result.stream_versions.items()])
