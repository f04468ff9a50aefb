"""The relay's producer spans (ADR 0032, OpenTelemetry messaging conventions).

Contract of :func:`producer_spans`: with tracing on, each record of a batch gets a ``send <topic>`` span of kind
PRODUCER, the child of the span that appended its event (the ``traceparent`` the event store kept with it), or,
for an event kept without one, the root of a trace whose id is the event's correlation id; the record's
``traceparent``/``tracestate`` headers are replaced by its span's, so that consumers continue from it. The spans
end when the batch was acknowledged (or failed: then they are marked as errors). With tracing off the records pass
unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from opentelemetry.trace import Span, SpanKind, StatusCode

from eventledger_command.eventstore.records import RecordedEvent
from eventledger_events import KafkaRecord
from eventledger_runtime import tracing


@contextlib.contextmanager
def producer_spans(events: Sequence[RecordedEvent], records: list[KafkaRecord]) -> Iterator[list[KafkaRecord]]:
    if not tracing.enabled():
        yield records
        return
    spans: list[Span] = []
    traced: list[KafkaRecord] = []
    tracer = tracing.tracer()
    for event, record in zip(events, records, strict=True):
        with tracing.trace_id_from(event.correlation_id):
            span = tracer.start_span(
                f"send {record.topic}",
                context=tracing.context_from_traceparent(event.trace_context),
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.operation.name": "send",
                    "messaging.destination.name": record.topic,
                    "messaging.kafka.message.key": event.stream_id,
                    "messaging.message.id": str(event.event_id),
                    "eventledger.position": event.position,
                    "eventledger.event_type": event.event_type,
                },
            )
        spans.append(span)
        headers = list(record.headers)
        with tracing.use_span(span):
            tracing.inject_kafka_headers(headers)
        traced.append(KafkaRecord(record.topic, record.key, record.value, tuple(headers)))
    try:
        yield traced
    except BaseException as failure:
        for span in spans:
            span.set_status(StatusCode.ERROR, f"{type(failure).__name__}: {failure}"[:200])
        raise
    finally:
        for span in spans:
            span.end()
