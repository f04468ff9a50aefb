"""Traces across the write side and Kafka, in process (ADR 0032): the append keeps its span's context with the
events, the relay's producer span continues it and puts its own in the message's headers, and a projector's apply
span is the producer's child with a link to it. Off (no endpoint), nothing is recorded and the old headers stay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.support.ledger import open_account

from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_command.eventstore.records import AppendRequest
from eventledger_command.relay.publisher import InMemoryPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_projections.runtime.port import LogMessage
from eventledger_projections.runtime.telemetry import consumer_spans
from eventledger_runtime import tracing
from eventledger_runtime.eventlog import InMemoryEventLog
from eventledger_runtime.settings import SettingsError, TelemetrySettings, load_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = tracing.new_provider("test")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracing.recording_to(provider):
        yield exporter
    provider.shutdown()


def _only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    [span] = [s for s in exporter.get_finished_spans() if s.name == name]
    return span


def _traceparent(span: ReadableSpan) -> str:
    return f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-{span.context.trace_flags:02x}"


def test_a_root_span_takes_the_correlation_id_as_its_trace_id(spans: InMemorySpanExporter) -> None:
    correlation = uuid.uuid4()
    with tracing.trace_id_from(correlation), tracing.tracer().start_as_current_span("request"):
        pass
    with tracing.tracer().start_as_current_span("another"):
        pass
    assert _only(spans, "request").context.trace_id == correlation.int
    assert _only(spans, "another").context.trace_id != correlation.int


def test_one_trace_from_the_append_through_the_relay_to_a_projector(spans: InMemorySpanExporter) -> None:
    store = InMemoryEventStore()
    with tracing.tracer().start_as_current_span("request"):
        store.append(AppendRequest((open_account(uuid.uuid4()),)))
    append = _only(spans, "eventstore.append")
    assert append.parent is not None
    assert append.parent.span_id == _only(spans, "request").context.span_id
    assert append.attributes is not None
    assert append.attributes["eventledger.positions"] == (1,)
    [event] = store.read_all()
    assert event.trace_context == _traceparent(append)

    publisher = InMemoryPublisher()
    Relay(store, publisher, InMemoryEventLog(), RelayConfig()).run_once()
    [record] = publisher.sent
    [send] = [s for s in spans.get_finished_spans() if s.name.startswith("send ")]
    assert send.kind == tracing.SpanKind.PRODUCER
    assert send.parent is not None
    assert send.parent.span_id == append.context.span_id
    traceparents = [value for name, value in record.headers if name == "traceparent"]
    assert traceparents == [_traceparent(send).encode()], "the producer's context replaces the header, once"

    message = LogMessage(record.topic, 0, 7, record.key, record.value, record.headers)
    with consumer_spans([message], "postgres"):
        pass
    [apply] = [s for s in spans.get_finished_spans() if s.name.startswith("apply ")]
    assert apply.kind == tracing.SpanKind.CONSUMER
    assert apply.parent is not None
    assert apply.parent.span_id == send.context.span_id
    assert [link.context.span_id for link in apply.links] == [send.context.span_id]
    assert apply.context.trace_id == append.context.trace_id
    assert apply.attributes is not None
    assert apply.attributes["messaging.kafka.offset"] == 7


def test_a_failed_apply_marks_its_spans_as_errors(spans: InMemorySpanExporter) -> None:
    headers = (("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),)
    with pytest.raises(RuntimeError), consumer_spans([LogMessage("t", 0, 1, None, None, headers)], "redis"):
        raise RuntimeError("store down")
    [apply] = spans.get_finished_spans()
    assert not apply.status.is_ok
    assert apply.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736


def test_a_message_without_trace_context_gets_no_consumer_span(spans: InMemorySpanExporter) -> None:
    with consumer_spans([LogMessage("t", 0, 1, None, None, (("traceparent", b"garbage"),))], "redis"):
        pass
    assert spans.get_finished_spans() == ()


def test_off_nothing_is_recorded_and_the_relay_derives_the_trace_from_the_correlation() -> None:
    assert not tracing.enabled()
    store = InMemoryEventStore()
    store.append(AppendRequest((open_account(uuid.uuid4()),)))
    [event] = store.read_all()
    assert event.trace_context is None
    publisher = InMemoryPublisher()
    Relay(store, publisher, InMemoryEventLog(), RelayConfig()).run_once()
    headers = dict(publisher.sent[0].headers)
    assert headers["traceparent"].decode() == f"00-{event.correlation_id.hex}-{event.event_id.hex[:16]}-01"


def test_the_endpoint_is_the_standard_variable_and_must_be_an_http_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TelemetrySettings().traces_endpoint is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert TelemetrySettings().traces_endpoint == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")
    with pytest.raises(SettingsError, match="OTEL_EXPORTER_OTLP_ENDPOINT: must be an http"):
        load_settings()
