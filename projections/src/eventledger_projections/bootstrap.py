"""The one place that wires projectors: settings in, a runner over Kafka and a read model out.

Each read model has a ``wiring`` module of one shape (``postgres/wiring.py``, ``redis/wiring.py``,
``elasticsearch/wiring.py``): ``NAME``, ``TOPICS``, ``OPS_PORT``, ``build_projection``, ``run_rebuild`` and ``status``.
A new read model adds such a module and registers it in :data:`PROJECTIONS`. Nothing connects at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from eventledger_projections.elasticsearch import wiring as elasticsearch_wiring
from eventledger_projections.postgres import wiring as postgres_wiring
from eventledger_projections.rebuild.port import RebuildListener, RebuildReport
from eventledger_projections.rebuild.sandbox import SandboxStore
from eventledger_projections.redis import wiring as redis_wiring
from eventledger_projections.runtime.kafka import KafkaDeadLetterSink, KafkaEventLog
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC, DeadLetterSink, EventLog
from eventledger_projections.runtime.port import Projection
from eventledger_projections.runtime.runner import ProjectionRunner, RunnerConfig
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.eventlog.checkpoint_notice import PostgresCheckpointListener
from eventledger_runtime.instances import PAUSED, RUNNING, STALLED, Heartbeat, HeartbeatLoop
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.personal.opener import opener_for
from eventledger_runtime.settings import ProjectionSettings, Servers, load_settings

log = logging.getLogger(__name__)

ProjectionFactory = Callable[[ProjectionSettings, Servers], Projection]


class RebuildFunction(Protocol):
    """A wiring's ``run_rebuild``."""

    def __call__(
        self, settings: ProjectionSettings, infra: Servers, listener: RebuildListener, *, force: bool = False
    ) -> RebuildReport: ...


StatusFunction = Callable[[ProjectionSettings, Servers], dict[str, object]]


@dataclass(frozen=True)
class ProjectionSpec:
    """A read model as its wiring module declares it: how to build its projection, the topics it reads (known
    without connecting), its default ops port, its rebuild, its status and its sandboxes (a rebuild as of a past
    position, beside the live one)."""

    factory: ProjectionFactory
    topics: tuple[str, ...]
    ops_port: int
    rebuild: RebuildFunction
    status: StatusFunction
    sandboxes: SandboxStore


PROJECTIONS: dict[str, ProjectionSpec] = {
    postgres_wiring.NAME: ProjectionSpec(
        postgres_wiring.build_projection,
        postgres_wiring.TOPICS,
        postgres_wiring.OPS_PORT,
        postgres_wiring.run_rebuild,
        postgres_wiring.status,
        postgres_wiring.SANDBOXES,
    ),
    redis_wiring.NAME: ProjectionSpec(
        redis_wiring.build_projection,
        redis_wiring.TOPICS,
        redis_wiring.OPS_PORT,
        redis_wiring.run_rebuild,
        redis_wiring.status,
        redis_wiring.SANDBOXES,
    ),
    elasticsearch_wiring.NAME: ProjectionSpec(
        elasticsearch_wiring.build_projection,
        elasticsearch_wiring.TOPICS,
        elasticsearch_wiring.OPS_PORT,
        elasticsearch_wiring.run_rebuild,
        elasticsearch_wiring.status,
        elasticsearch_wiring.SANDBOXES,
    ),
}


def group_id(name: str, settings: ProjectionSettings) -> str:
    """One consumer group per projection: ``eventledger-projection-<name>``, in the namespace."""
    return settings.group_id(name)


@dataclass
class Projector:
    """A runner and what it holds; ``close`` releases it all."""

    name: str
    projection: Projection
    runner: ProjectionRunner
    relay_checkpoint: Callable[[], int]
    """How far the relay has published the log (the runner's head, and the watchdog's)."""
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
    after_store_write: Callable[[int], None] | None = None,
) -> Projector:
    """Wire the projector ``name``; tests may pass their own log and dead-letter sink, and a hook the runner calls
    after each batch's store write (before its Kafka commit)."""
    settings = settings or ProjectionSettings()
    infra = infra or load_settings()
    spec = PROJECTIONS[name]
    projection = spec.factory(settings, infra)
    # Two connections: the runner's thread and the watchdog's read it.
    event_store = PostgresEventLogReader(infra.postgres_dsn, pool_size=2, name="relay-checkpoint")
    # The relay announces each acknowledged batch before it saves the checkpoint (ADR 0037).
    notices = PostgresCheckpointListener(infra.postgres_dsn, settings.relay_checkpoint_name)

    def relay_checkpoint() -> int:
        announced = notices.latest()
        saved = event_store.checkpoint(settings.relay_checkpoint_name)
        return max(announced, saved)

    if event_log is None:
        event_log = KafkaEventLog(
            infra.kafka_bootstrap,
            group_id(name, settings),
            session_timeout_ms=round(settings.session_timeout_seconds * 1000),
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
        eager_progress_interval=settings.eager_progress_interval_seconds,
        after_store_write=after_store_write,
        opener=opener_for(infra.postgres_dsn),
    )
    runner = ProjectionRunner(projection, event_log, dead_letters, relay_checkpoint, config, notices.wait_for)
    return Projector(
        name,
        projection,
        runner,
        relay_checkpoint,
        [projection.close, notices.close, event_store.close, dead_letters.close],
    )


def instance_report(projector: Projector, stall_reason: Callable[[], str | None]) -> Callable[[], Heartbeat]:
    """What the projector says of itself in each heartbeat of the instance registry: its state, the position its
    read model reflected at the runner's last refresh, its assigned partitions and their lag (read from the runner
    without touching the store or Kafka)."""
    runner = projector.runner

    def report() -> Heartbeat:
        reason = stall_reason()
        assigned = runner.assigned
        return Heartbeat(
            state=STALLED if reason is not None else PAUSED if runner.paused else RUNNING,
            position=runner.reflected,
            lag_events=sum(p.lag or 0 for p in assigned),
            lag_seconds=round(runner.lag_seconds, 3),
            partitions=assigned,
            reason=reason,
        )

    return report


def instance_actions(projector: Projector, heartbeat: HeartbeatLoop) -> dict[str, Callable[[], None]]:
    """The projector's actions (``pause``, ``resume``) for its ops endpoint and signals: each beats at once, since
    the admin view waits for the instance to report the new state."""

    def then_beat(action: Callable[[], None]) -> Callable[[], None]:
        def acted() -> None:
            action()
            heartbeat.nudge()

        return acted

    return {"pause": then_beat(projector.runner.pause), "resume": then_beat(projector.runner.resume)}


def prepare_topics(name: str, settings: ProjectionSettings, infra: Servers) -> None:
    """Create the consumed topics and the dead-letter topic if they do not exist (the relay may start later)."""
    topics = [settings.topic_namespace + topic for topic in (*PROJECTIONS[name].topics, DEAD_LETTER_TOPIC)]
    ensure_topics(infra.kafka_bootstrap, topics, infra.kafka_partitions)
