"""The projectors' consumer spans (ADR 0032, OpenTelemetry messaging conventions).

Contract of :func:`consumer_spans`: with tracing on, each message of a batch whose headers carry a valid
``traceparent`` gets an ``apply <topic>`` span of kind CONSUMER while the batch is applied: the child of the
producer's span (the relay's ``send``), with a link to it as well, so that a trace shows every read model the
event reached, and tools that follow only links (batch consumers) still find the producer. The spans end when the
batch is applied or parked (an exception escaping marks them as errors). With tracing off nothing happens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from opentelemetry.trace import Span, SpanKind, StatusCode

from eventledger_projections.runtime.port import LogMessage
from eventledger_runtime import tracing


@contextlib.contextmanager
def consumer_spans(messages: Iterable[LogMessage], consumer: str) -> Iterator[None]:
    if not tracing.enabled():
        yield
        return
    tracer = tracing.tracer()
    spans: list[Span] = []
    for message in messages:
        parent = tracing.context_from_kafka_headers(message.headers)
        if parent is None:
            continue
        spans.append(
            tracer.start_span(
                f"apply {message.topic}",
                context=parent,
                kind=SpanKind.CONSUMER,
                links=[tracing.link_to(parent)],
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.operation.name": "apply",
                    "messaging.destination.name": message.topic,
                    "messaging.destination.partition.id": str(message.partition),
                    "messaging.kafka.offset": message.offset,
                    "messaging.consumer.group.name": consumer,
                    "eventledger.projection": consumer,
                },
            )
        )
    try:
        yield
    except BaseException as failure:
        for span in spans:
            span.set_status(StatusCode.ERROR, f"{type(failure).__name__}: {failure}"[:200])
        raise
    finally:
        for span in spans:
            span.end()
