"""The whole data path in one process, on the real servers, isolated in a scratch database, its own topic
namespace, Redis key base and Elasticsearch index prefix: command service → event store → relay → Kafka →
projectors → read models → query service. For query-side integration tests and latency benchmarks."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from eventledger_command.api.app import create_app as create_command_app
from eventledger_command.bootstrap import Container
from eventledger_command.bootstrap import build as build_command
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS
from eventledger_gateway.app import create_app as create_gateway_app
from eventledger_infra.settings import Settings
from eventledger_projections.bootstrap import (
    PROJECTIONS,
    Projector,
    build_projector,
    instance_actions,
    instance_report,
    prepare_topics,
)
from eventledger_query.app import create_app as create_query_app
from eventledger_query.services import build as build_query
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.eventlog.checkpoint_notice import PostgresCheckpointAnnouncer
from eventledger_runtime.eventlog.notice import PostgresNewEventsAnnouncer, PostgresNewEventsListener
from eventledger_runtime.instances import HeartbeatLoop, PostgresInstanceRegistry, registration_for
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.ops_http import serve_ops
from eventledger_runtime.settings import CommandSettings, GatewaySettings, Namespace, ProjectionSettings, QuerySettings
from tests.support.http_service import serve
from tests.support.kafka_groups import delete_groups_with_prefix
from tests.support.processes import scratch_database
from tests.support.redis_keys import delete_keys
from tests.support.schema_registry import registered_schema_ids


@dataclass
class Pipeline:
    settings: Settings
    namespace: str
    redis_base: str
    es_prefix: str
    command_url: str = ""
    query_url: str = ""
    command: Container | None = None
    projectors: dict[str, Projector] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def pipeline(projections: tuple[str, ...] | None = None) -> Iterator[Pipeline]:
    """Run every registered projection (or the ones named) with a relay and both HTTP services."""
    base = Settings.from_env()
    names = projections or tuple(PROJECTIONS)
    tag = uuid.uuid4().hex[:8]
    with scratch_database(base) as database, contextlib.ExitStack() as stack:
        settings = dataclasses.replace(base, pg_database=database)
        own = Namespace(f"pipe-{tag}")
        run = Pipeline(settings, own.topic_prefix, own.redis_base, own.index_prefix)
        run.env = {"EVENTLEDGER_PG_DATABASE": database, "EVENTLEDGER_NAMESPACE": own.value}
        with _environment(run.env):
            ensure_topics(settings.kafka_bootstrap, [run.namespace + t for t in ALL_TOPICS], settings.kafka_partitions)
            announcer = PostgresNewEventsAnnouncer(settings.postgres_dsn)
            stack.callback(announcer.close)
            run.command = build_command(
                CommandSettings(),
                store=PostgresEventStore(settings.postgres_dsn, pool_size=16, announcer=announcer),
            )
            run.command_url = stack.enter_context(serve(create_command_app(run.command)))
            _thread(stack, _relay(settings, run.namespace))
            projection_settings = ProjectionSettings(namespace=own.value)
            registry = PostgresInstanceRegistry(settings.postgres_dsn)
            stack.callback(registry.close)
            for name in names:
                prepare_topics(name, projection_settings, settings)
                projector = build_projector(name, projection_settings, settings)
                run.projectors[name] = projector
                stack.callback(projector.close)  # after the runner's thread has stopped (the stack unwinds last first)
                _thread(stack, (projector.runner.run, projector.runner.stop))
                _register(stack, registry, projector)
            readers = build_query(QuerySettings(namespace=own.value), settings)
            run.query_url = stack.enter_context(serve(create_query_app(readers)))
            stack.callback(delete_groups_with_prefix, settings.kafka_bootstrap, run.namespace)  # after the stops
            yield run


def _register(stack: contextlib.ExitStack, registry: PostgresInstanceRegistry, projector: Projector) -> None:
    """Serve the projector's ops endpoint on an ephemeral port and register it, as ``run`` does (no watchdog)."""
    runner = projector.runner
    heartbeat = HeartbeatLoop(registry, instance_report(projector, lambda: None))
    server = serve_ops(
        "127.0.0.1",
        0,
        ready=lambda: True,
        status=lambda: {"projection": projector.name, "reflected_position": runner.reflected},
        actions=instance_actions(projector, heartbeat),
    )
    stack.callback(server.shutdown)
    heartbeat.start(registration_for(projector.name, "127.0.0.1", server.server_address[1]))
    stack.callback(heartbeat.close)


def _relay(settings: Settings, namespace: str) -> tuple[Callable[[], None], Callable[[], None]]:
    store = PostgresEventStore(settings.postgres_dsn, pool_size=2)
    publisher = KafkaEventPublisher(settings.kafka_bootstrap)
    checkpoints = PostgresEventLogReader(settings.postgres_dsn)
    new_events = PostgresNewEventsListener(settings.postgres_dsn)
    checkpoint_notices = PostgresCheckpointAnnouncer(settings.postgres_dsn)
    relay = Relay(
        store,
        publisher,
        checkpoints,
        RelayConfig(topic_namespace=namespace),
        new_events=new_events,
        schema_ids=registered_schema_ids(settings.registry_url),
        checkpoint_notices=checkpoint_notices,
    )

    def stop() -> None:
        relay.stop()

    def run() -> None:
        try:
            relay.run()
        finally:
            publisher.close()
            checkpoints.close()
            new_events.close()
            checkpoint_notices.close()
            store.close()

    return run, stop


def _thread(stack: contextlib.ExitStack, run_stop: tuple[Callable[[], None], Callable[[], None]]) -> None:
    run, stop = run_stop
    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def finish() -> None:
        stop()
        thread.join(30)

    stack.callback(finish)


@contextlib.contextmanager
def gateway_over_pipeline(redis_url: str, label: str) -> Iterator[tuple[str, GatewaySettings]]:
    """A gateway (its URL and settings) in front of a :func:`pipeline`'s real services, its rate limit out of the way
    and its Redis keys under a prefix of ``label``'s, removed afterwards."""
    prefix = f"test:{label}:{uuid.uuid4().hex[:12]}:"
    with pipeline() as run:
        settings = GatewaySettings(
            command_url=run.command_url,
            query_url=run.query_url,
            redis_url=redis_url,
            rate_limit_key_prefix=prefix,
            rate_limit_per_second=1000,
            rate_limit_burst=1000,
        )
        with serve(create_gateway_app(settings)) as url:
            yield url, settings
    delete_keys(redis_url, prefix)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    import os

    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
