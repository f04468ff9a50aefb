"""Shared by the read models' replay benchmarks (PRODUCT.md §6 item 4): a log in a scratch event store, published by
the relay to topics of a namespace of its own (in the Confluent wire format under the schema registry's ids, as in
production: ADR 0028), the timing of a projection runner replaying it from offset zero, and the same with the
runner's ``apply`` spans exported over OTLP (ADR 0032) to a receiver process."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from confluent_kafka.admin import AdminClient
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from tests.support.kafka_groups import delete_groups
from tests.support.processes import free_port
from tests.support.schema_registry import registered_schema_ids

from bench._common import child_server, scratch_database
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS, EventEnvelope
from eventledger_infra.settings import Settings
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_projections.runtime.kafka import KafkaEventLog
from eventledger_projections.runtime.memory import InMemoryBroker, InMemoryDeadLetters
from eventledger_projections.runtime.port import Projection
from eventledger_projections.runtime.runner import ProjectionRunner, RunnerConfig
from eventledger_runtime import tracing
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.personal.opener import opener_for
from eventledger_runtime.schema_registry import read_wire_format_with

PARTITIONS = 6


@dataclasses.dataclass(frozen=True)
class PublishedLog:
    """The log as stored (``envelopes``, up to ``head``) and as published under ``namespace``."""

    settings: Settings
    namespace: str
    head: int
    envelopes: list[EventEnvelope]


@contextlib.contextmanager
def published_log(base: Settings, build: Callable[[PostgresEventStore], None], what: str) -> Iterator[PublishedLog]:
    """A scratch event store filled by ``build`` (``what`` names the log), published to fresh topics; the topics and
    the database are dropped afterwards."""
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    with scratch_database(base) as database:
        settings = dataclasses.replace(base, pg_database=database)
        store = PostgresEventStore(settings.postgres_dsn, pool_size=2)
        try:
            print(f"building {what} and publishing it to {namespace}* ...", flush=True)
            build(store)
            _publish(store, settings, namespace)
            head = store.head_position()
            source = EventStoreSource(PostgresEventLogReader(settings.postgres_dsn))
            envelopes = source.read(0, head, 10**9)
            source.close()
            yield PublishedLog(settings, namespace, head, envelopes)
        finally:
            store.close()
            admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
            for future in admin.delete_topics([namespace + t for t in ALL_TOPICS]).values():
                future.result(timeout=30)


def _publish(store: PostgresEventStore, settings: Settings, namespace: str) -> None:
    ensure_topics(settings.kafka_bootstrap, [namespace + t for t in ALL_TOPICS], PARTITIONS)
    read_wire_format_with(settings.registry_url)  # the runners of this process read what the relay writes
    checkpoints = PostgresEventLogReader(settings.postgres_dsn)
    publisher = KafkaEventPublisher(settings.kafka_bootstrap)
    schema_ids = registered_schema_ids(settings.registry_url)
    relay = Relay(store, publisher, checkpoints, RelayConfig(topic_namespace=namespace), schema_ids=schema_ids)
    head = store.head_position()
    while relay.position < head:
        relay.run_once()
    publisher.close()
    checkpoints.close()


@contextlib.contextmanager
def otlp_receiver() -> Iterator[str]:
    """A trace receiver process (``tests.support.otlp``, as ``bench.bench_tracing`` uses); answers its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryDirectory() as logs,
        child_server(["tests.support.otlp", str(port)], {}, Path(logs) / "receiver.log", f"{url}/"),
    ):
        yield url


@contextlib.contextmanager
def traced(receiver: str) -> Iterator[None]:
    """Inside, this process records spans and exports them to ``receiver`` as a traced projector does (a batch span
    processor, OTLP over HTTP); every span is exported before the block ends (outside any timing)."""
    provider = tracing.new_provider("bench-projection")
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver}/v1/traces")))
    try:
        with tracing.recording_to(provider):
            yield
    finally:
        provider.shutdown()


def replay_rate(
    projection: Projection,
    log: PublishedLog,
    batch_size: int,
    finish: Callable[[ProjectionRunner], object] = lambda runner: None,
) -> float:
    """Replay from zero through a runner over ``projection``; timed from its first applied batch (the group join,
    a constant three seconds of the broker's initial rebalance delay, is left out) to the last message and then
    ``finish`` (what the read model needs before its answers show everything, if anything)."""
    group = f"{log.namespace}bench-{uuid.uuid4().hex[:8]}"
    event_log = KafkaEventLog(log.settings.kafka_bootstrap, group)
    runner = ProjectionRunner(
        projection,
        event_log,
        InMemoryDeadLetters(InMemoryBroker()),  # nothing is parked: every event of this log applies
        lambda: log.head,
        RunnerConfig(
            topic_namespace=log.namespace,
            batch_size=batch_size,
            progress_interval=5.0,
            opener=opener_for(log.settings.postgres_dsn),  # as in production: sealed values opened
        ),
    )
    try:
        runner.start()
        first = 0
        while first == 0:
            first = runner.run_once()
        began = time.perf_counter()
        done = first
        while done < len(log.envelopes):
            done += runner.run_once()
        finish(runner)
        elapsed = time.perf_counter() - began
    finally:
        event_log.close()
        delete_groups(log.settings.kafka_bootstrap, [group])
    return (done - first) / elapsed
