"""The one place that wires projectors: settings in, a runner over Kafka and a read model out.

A new read model registers here: a factory for its :class:`Projection`, its default ops port, and its rebuild.
Nothing connects at import time.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventledger_projections.elasticsearch import wiring as elasticsearch_wiring
from eventledger_projections.elasticsearch.projection import ElasticsearchProjection
from eventledger_projections.postgres.projection import PostgresReadModel
from eventledger_projections.postgres.rebuild import PostgresRebuild, RebuildConfig, RebuildListener, RebuildReport
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_projections.redis.projection import RedisProjection
from eventledger_projections.redis.service import OPS_PORT as REDIS_OPS_PORT
from eventledger_projections.redis.service import build_redis_projection, rebuild_redis
from eventledger_projections.runtime.kafka import KafkaDeadLetterSink, KafkaEventLog
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC, DeadLetterSink, EventLog
from eventledger_projections.runtime.port import Projection
from eventledger_projections.runtime.relay_checkpoint import PostgresRelayCheckpoint
from eventledger_projections.runtime.runner import ProjectionRunner, RunnerConfig
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.settings import ProjectionSettings, Servers, load_settings

log = logging.getLogger(__name__)

ProjectionFactory = Callable[[ProjectionSettings, Servers], Projection]
RebuildFunction = Callable[[ProjectionSettings, Servers, RebuildListener], Any]


def _postgres(settings: ProjectionSettings, infra: Servers) -> Projection:
    return PostgresReadModel(infra.postgres_dsn, base_schema=settings.postgres_schema)


def _rebuild_postgres(settings: ProjectionSettings, infra: Servers, listener: RebuildListener) -> RebuildReport:
    source = EventStoreSource(event_store_dsn(settings, infra), relay_checkpoint=settings.relay_checkpoint_name)
    try:
        rebuild = PostgresRebuild(
            infra.postgres_dsn,
            source,
            base_schema=settings.postgres_schema,
            config=RebuildConfig(batch_size=settings.rebuild_batch_size),
            listener=listener,
        )
        return rebuild.run()
    finally:
        source.close()


@dataclass(frozen=True)
class ProjectionSpec:
    """How to build a projection, the topics it reads (known without connecting), its ops port and rebuild."""

    factory: ProjectionFactory
    topics: tuple[str, ...]
    ops_port: int
    rebuild: RebuildFunction | None = None


PROJECTIONS: dict[str, ProjectionSpec] = {
    "postgres": ProjectionSpec(_postgres, PostgresReadModel.topics, ops_port=18101, rebuild=_rebuild_postgres),
    "redis": ProjectionSpec(
        build_redis_projection, RedisProjection.topics, ops_port=REDIS_OPS_PORT, rebuild=rebuild_redis
    ),
    "elasticsearch": ProjectionSpec(
        elasticsearch_wiring.build_projection,
        ElasticsearchProjection.topics,
        ops_port=elasticsearch_wiring.OPS_PORT,
        rebuild=elasticsearch_wiring.run_rebuild,
    ),
}


def event_store_dsn(settings: ProjectionSettings, infra: Servers) -> str:
    return settings.event_store(infra.postgres_dsn)


def group_id(name: str, settings: ProjectionSettings) -> str:
    """One consumer group per projection: ``eventledger-projection-<name>``, in the namespace."""
    return settings.group_id(name)


@dataclass
class Projector:
    """A runner and what it holds; ``close`` releases it all."""

    name: str
    projection: Projection
    runner: ProjectionRunner
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception as error:
                log.warning("%s: closing failed: %s", self.name, error)


def build_projector(
    name: str,
    settings: ProjectionSettings | None = None,
    infra: Servers | None = None,
    *,
    event_log: EventLog | None = None,
    dead_letters: DeadLetterSink | None = None,
) -> Projector:
    """Wire the projector ``name``; tests may pass their own log and dead-letter sink."""
    settings = settings or ProjectionSettings()
    infra = infra or load_settings()
    spec = PROJECTIONS[name]
    projection = spec.factory(settings, infra)
    relay = PostgresRelayCheckpoint(event_store_dsn(settings, infra), settings.relay_checkpoint_name)
    if event_log is None:
        event_log = KafkaEventLog(
            infra.kafka_bootstrap, group_id(name, settings), session_timeout_ms=settings.session_timeout_ms
        )
    if dead_letters is None:
        dead_letters = KafkaDeadLetterSink(infra.kafka_bootstrap, settings.topic_namespace + DEAD_LETTER_TOPIC)
    config = RunnerConfig(
        topic_namespace=settings.topic_namespace,
        batch_size=settings.batch_size,
        poll_timeout=settings.poll_timeout_seconds,
        max_attempts=settings.max_attempts,
        backoff_initial=settings.backoff_initial_seconds,
        backoff_max=settings.backoff_max_seconds,
        progress_interval=settings.progress_interval_seconds,
        after_store_write=_kill_after(settings.test_kill_after_batches) if settings.test_kill_after_batches else None,
    )
    runner = ProjectionRunner(projection, event_log, dead_letters, relay, config)
    return Projector(name, projection, runner, [projection.close, relay.close, dead_letters.close])


def prepare_topics(name: str, settings: ProjectionSettings, infra: Servers) -> None:
    """Create the consumed topics and the dead-letter topic if they do not exist (the relay may start later)."""
    topics = [settings.topic_namespace + topic for topic in (*PROJECTIONS[name].topics, DEAD_LETTER_TOPIC)]
    ensure_topics(infra.kafka_bootstrap, topics, infra.kafka_partitions)


def _kill_after(batches: int) -> Callable[[int], None]:
    """TEST ONLY (EVENTLEDGER_PROJECTION_TEST_KILL_AFTER_BATCHES): die like a crash after the store write of the
    given batch and before its Kafka offsets are committed, so fault tests hit that window deterministically."""

    def hook(done: int) -> None:
        if done >= batches:
            log.warning("test hook: SIGKILL after the store write of batch %d, before the offset commit", done)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
