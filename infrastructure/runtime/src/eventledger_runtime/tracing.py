"""OpenTelemetry traces for every process (ADR 0032): set up once per process, off unless an endpoint is set.

Contract:
- :func:`configure_tracing` installs an SDK tracer provider exporting over OTLP/HTTP (protobuf, batched) when
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and answers whether it did. Without an endpoint nothing is installed: the
  API's no-op tracer answers, no span is recorded, and the code paths below test :func:`enabled` first, so that
  tracing off costs one function call.
- A trace started without a parent takes as its trace id the correlation id set by :func:`trace_id_from` (the
  gateway sets it), so one business conversation is one trace, as the ``traceparent`` the gateway built before.
- W3C trace context travels in ``traceparent``/``tracestate``: HTTP headers, Kafka headers
  (:func:`inject_kafka_headers`, :func:`context_from_kafka_headers`) and the event store, which keeps each event's
  ``traceparent`` (:func:`current_traceparent`) so that the relay, later and in another process, continues it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Link, Span, SpanKind, use_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from eventledger_runtime.settings import TelemetrySettings

log = logging.getLogger(__name__)

TRACER_NAME = "eventledger"
_PROPAGATOR = TraceContextTextMapPropagator()
_NEXT_TRACE_ID: ContextVar[int | None] = ContextVar("eventledger_next_trace_id", default=None)
_provider: TracerProvider | None = None

__all__ = [
    "Link",
    "Span",
    "SpanKind",
    "configure_tracing",
    "context_from_headers",
    "context_from_kafka_headers",
    "context_from_traceparent",
    "current_traceparent",
    "enabled",
    "inject_kafka_headers",
    "is_probe",
    "new_provider",
    "recording_to",
    "trace_id_from",
    "tracer",
    "use_span",
]


class _CorrelatedIdGenerator(RandomIdGenerator):
    """Random ids, except a root span's trace id inside :func:`trace_id_from`."""

    def generate_trace_id(self) -> int:
        chosen = _NEXT_TRACE_ID.get()
        return chosen if chosen else super().generate_trace_id()


def configure_tracing(service: str, settings: TelemetrySettings | None = None, *, instance: str | None = None) -> bool:
    """Export this process's spans as ``service`` when an endpoint is configured; answers whether tracing is on.
    ``instance`` names the process among the replicas of its service (default: ``<service>-<pid>``)."""
    global _provider  # noqa: PLW0603 - one provider per process, set once at start-up
    endpoint = (settings or TelemetrySettings()).traces_endpoint
    if endpoint is None or _provider is not None:
        return _provider is not None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = new_provider(service, instance=instance)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _provider = provider
    log.info("exporting traces to %s", endpoint)
    return True


def new_provider(service: str, *, instance: str | None = None) -> TracerProvider:
    """A tracer provider naming ``service``, whose root spans may take their trace id from :func:`trace_id_from`."""
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": service, "service.instance.id": instance or f"{service}-{os.getpid()}"})
    return TracerProvider(resource=resource, id_generator=_CorrelatedIdGenerator())


@contextlib.contextmanager
def recording_to(provider: TracerProvider) -> Iterator[None]:
    """Record spans through ``provider`` inside (tests: a provider with an in-memory exporter)."""
    global _provider  # noqa: PLW0603 - swapped for the block only
    previous, _provider = _provider, provider
    try:
        yield
    finally:
        _provider = previous


PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""The operations endpoints that balancers and Prometheus poll: no span (one every second or two, saying nothing)."""


def is_probe(scope: MutableMapping[str, Any]) -> bool:
    """Whether an ASGI ``scope`` is a request to one of :data:`PROBE_PATHS`."""
    return scope.get("path") in PROBE_PATHS


def enabled() -> bool:
    """Whether this process records spans."""
    return _provider is not None


def tracer() -> trace.Tracer:
    return (_provider or trace.get_tracer_provider()).get_tracer(TRACER_NAME)


@contextlib.contextmanager
def trace_id_from(correlation_id: UUID) -> Iterator[None]:
    """A span started inside without a parent gets ``correlation_id`` as its trace id."""
    token = _NEXT_TRACE_ID.set(correlation_id.int)
    try:
        yield
    finally:
        _NEXT_TRACE_ID.reset(token)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None without a recording one."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def inject_headers(carrier: MutableMapping[str, str]) -> None:
    """Write the current span's ``traceparent`` (and ``tracestate``) into ``carrier``."""
    _PROPAGATOR.inject(carrier)


def context_from_headers(headers: Mapping[str, str]) -> Context:
    """The remote parent named by ``traceparent``/``tracestate`` (lower-case names); an empty context otherwise."""
    return _PROPAGATOR.extract(headers)


def context_from_traceparent(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The remote parent of a stored ``traceparent``; None when there is none or it is malformed."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent, **({"tracestate": tracestate} if tracestate else {})}
    context = _PROPAGATOR.extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def inject_kafka_headers(headers: list[tuple[str, bytes]]) -> None:
    """Replace the trace headers of a Kafka message with the current span's context."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    if not carrier:
        return
    headers[:] = [(name, value) for name, value in headers if name not in carrier]
    headers.extend((name, value.encode()) for name, value in carrier.items())


def context_from_kafka_headers(headers: Iterable[tuple[str, bytes | None]]) -> Context | None:
    """The producer's context carried by a Kafka message's headers; None without a valid ``traceparent``."""
    found = {name: value.decode(errors="replace") for name, value in headers if name in _PROPAGATOR.fields and value}
    return context_from_traceparent(found.get("traceparent"), found.get("tracestate"))


def link_to(context: Context) -> Link:
    """A link to the span ``context`` holds (a producer's, for the consumer's span: messaging conventions)."""
    return Link(trace.get_current_span(context).get_span_context())
