"""The relay loop: read the log from the checkpoint, publish, and only then move the checkpoint."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg
from prometheus_client import Counter, Gauge

from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_command.eventstore.port import EventStore
from eventledger_command.eventstore.records import RecordedEvent
from eventledger_command.relay.leadership import Leadership
from eventledger_command.relay.publisher import EventPublisher, PublishFailed
from eventledger_command.relay.telemetry import producer_spans
from eventledger_events import KafkaRecord, RegisteredSchemaIds, to_kafka_record
from eventledger_events.topics import HEADER_RELAY_TERM
from eventledger_runtime.eventlog import Deposed, EventLogReader
from eventledger_runtime.eventlog.checkpoint_notice import CheckpointAnnouncer
from eventledger_runtime.eventlog.notice import NewEventsListener
from eventledger_runtime.worker import StoppableLoop

log = logging.getLogger(__name__)

PUBLISHED = Counter("eventledger_relay_published_events_total", "Events published to Kafka (acknowledged)")
FAILURES = Counter("eventledger_relay_publish_failures_total", "Batches the broker did not fully acknowledge")
CHECKPOINT = Gauge("eventledger_relay_checkpoint_position", "Global position up to which every event is published")
LAG = Gauge("eventledger_relay_lag_events", "Events recorded but not yet published (head - checkpoint)")
LAG_SECONDS = Gauge("eventledger_relay_lag_seconds", "Age of the oldest event not yet published when last seen")
LEADER = Gauge("eventledger_relay_leader", "1 while this relay is the leader that publishes, 0 while it stands by")
TERM = Gauge("eventledger_relay_term", "The leader term this relay publishes under (0 while standing by)")
TERMS = Counter("eventledger_relay_terms_total", "Times this relay took office")
STEPPED_DOWN = Counter("eventledger_relay_stepped_down_total", "Times this relay stopped leading", ["reason"])

TERM_HEADER = HEADER_RELAY_TERM


class LeadershipLost(Exception):
    """The leader's lock session is gone: another relay may lead now."""


@dataclass(frozen=True)
class RelayConfig:
    checkpoint_name: str = "kafka-relay"
    batch_size: int = 2000
    idle_sleep_seconds: float = 0.005
    max_idle_sleep_seconds: float = 0.05
    retry_sleep_seconds: float = 1.0
    topic_namespace: str = ""
    standby_poll_seconds: float = 0.5


class Relay(StoppableLoop):
    """Publishes the global log to Kafka at least once, in log order per stream.

    Per stream order holds because a batch is published in position order by an idempotent producer with gapless
    delivery, and a batch that was not fully acknowledged is published again from its first event. The relay keeps
    its place in the log as a checkpoint of ``checkpoints`` (the event-log reader), saved only after the broker
    acknowledged every event up to it.

    When the log is drained the relay waits for ``new_events`` (a notice the event store sends after each append),
    at most ``max_idle_sleep_seconds``, then reads again; without one it polls, backing off from
    ``idle_sleep_seconds`` to ``max_idle_sleep_seconds``. A notice only decides when the relay looks.

    With a ``leadership``, several relays may run: only the holder of the leadership publishes, the others stand by
    and poll for it every ``standby_poll_seconds``. A relay that takes the leadership takes office (a new term of the
    checkpoint) and resumes from the checkpoint; every checkpoint save names its term, so a relay that lost the
    leadership without noticing publishes at most the batch it has in hand and then stops leading (:class:`Deposed`).
    Without one, the relay leads alone and unfenced (tests and benchmarks that run one relay in a thread).

    With ``checkpoint_notices``, the position of each batch is announced to the projectors as soon as the broker
    acknowledged it, before the checkpoint is saved (ADR 0037: a notice only lets a read model claim earlier what the
    saved checkpoint would let it claim a moment later).

    With ``schema_ids`` (the registry's ids, registered before the relay starts: ADR 0028) values are written in the
    Confluent wire format; an event whose schema has no id there fails its batch (``LookupError``), which is then
    neither published nor checkpointed. Without them values are in Avro single-object encoding (the loop's own
    tests, with an in-memory publisher).
    """

    def __init__(
        self,
        store: EventStore,
        publisher: EventPublisher,
        checkpoints: EventLogReader,
        config: RelayConfig,
        leadership: Leadership | None = None,
        new_events: NewEventsListener | None = None,
        schema_ids: RegisteredSchemaIds | None = None,
        checkpoint_notices: CheckpointAnnouncer | None = None,
    ) -> None:
        self._store = store
        self._checkpoint_notices = checkpoint_notices
        self._schema_ids = schema_ids
        self._new_events = new_events
        self._publisher = publisher
        self._checkpoints = checkpoints
        self._config = config
        self._leadership = leadership
        super().__init__()
        self.term: int | None = None
        self.leading = leadership is None
        self.position = checkpoints.checkpoint(config.checkpoint_name)
        CHECKPOINT.set(self.position)
        LEADER.set(1 if self.leading else 0)

    def use_schema_ids(self, schema_ids: RegisteredSchemaIds) -> None:
        """Write the Confluent wire format under these ids from the next batch on (set before ``run``)."""
        self._schema_ids = schema_ids

    @property
    def role(self) -> str:
        return "leader" if self.leading else "standby"

    def campaign(self) -> bool:
        """Lead if the leadership is free (or ours): take office and resume from the checkpoint. Answers whether this
        relay leads now."""
        if self.leading:
            return True
        assert self._leadership is not None
        if not self._leadership.try_acquire():
            return False
        try:
            self.term, self.position = self._checkpoints.take_office(self._config.checkpoint_name)
        except BaseException:
            self._leadership.release()
            raise
        self.leading = True
        TERMS.inc()
        LEADER.set(1)
        TERM.set(self.term)
        CHECKPOINT.set(self.position)
        log.info("leading under term %d from position %d", self.term, self.position)
        return True

    def step_down(self, reason: str) -> None:
        """Stop leading: give the leadership up (if still held) and stand by."""
        if self._leadership is None or not self.leading:
            return
        log.warning("no longer leading (term %s): %s", self.term, reason)
        self.leading = False
        self.term = None
        LEADER.set(0)
        TERM.set(0)
        STEPPED_DOWN.labels(reason.split(":", 1)[0]).inc()
        try:
            self._leadership.release()
        except Exception as exc:  # a broken lock session: its lock is gone anyway
            log.warning("releasing the leadership failed: %s", exc)

    def run_once(self) -> int:
        """Publish one batch; returns how many events were published (0 when the log has nothing new).

        A leader checks its lock's session before it publishes (``LeadershipLost``); a save under a term that is
        over raises :class:`Deposed` after the batch was published: that batch is the only overlap a leader change
        can cause.
        """
        if not self.leading:
            return 0
        events = self._store.read_all(after_position=self.position, limit=self._config.batch_size, wait=0.2)
        if not events:
            return 0
        if self._leadership is not None and not self._leadership.held():
            raise LeadershipLost("the lock's session is gone")
        LAG_SECONDS.set(max(0.0, time.time() - events[0].recorded_at.timestamp()))
        records = [self._record(kafka_record_of(event, self._schema_ids)) for event in events]
        with producer_spans(events, records) as traced:
            self._publisher.publish(traced, should_stop=self._stop.is_set)
        last = events[-1].position
        if self._checkpoint_notices is not None:  # acknowledged: projectors may claim it before the save (ADR 0037)
            self._checkpoint_notices.announce(self._config.checkpoint_name, last)
        self._checkpoints.save_checkpoint(self._config.checkpoint_name, last, term=self.term)
        self.position = last
        PUBLISHED.inc(len(events))
        CHECKPOINT.set(last)
        return len(events)

    def _record(self, record: KafkaRecord) -> KafkaRecord:
        """The record under the configured topic namespace (tests run their own topics side by side), with the
        leader's term when it leads under one."""
        topic = self._config.topic_namespace + record.topic
        headers = record.headers
        if self.term is not None:
            headers = (*headers, (TERM_HEADER, str(self.term).encode()))
        if topic == record.topic and headers is record.headers:
            return record
        return KafkaRecord(topic, record.key, record.value, headers)

    def run(self) -> None:
        """Until ``stop``: stand by until leading, then publish what is new, sleep a little when idle, retry after a
        failed batch, and stand by again on losing the leadership."""
        idle = self._config.idle_sleep_seconds
        try:
            self._run(idle)
        finally:
            if self._leadership is not None:
                self.step_down("stopped: the relay is stopping")

    def _run(self, idle: float) -> None:
        while not self._stop.is_set():
            if not self.leading:
                try:
                    leading = self.campaign()
                except psycopg.Error as exc:
                    log.warning("cannot campaign for the leadership now: %s", exc)
                    leading = False
                if not leading:
                    self._stop.wait(self._config.standby_poll_seconds)
                    continue
            try:
                published = self.run_once()
            except (Deposed, LeadershipLost) as exc:
                self.step_down(f"{'deposed' if isinstance(exc, Deposed) else 'lost'}: {exc}")
                continue
            except PublishFailed as exc:
                FAILURES.inc()
                log.warning("publish failed, the batch will be published again: %s", exc)
                self._stop.wait(self._config.retry_sleep_seconds)
                continue
            if published:
                idle = self._config.idle_sleep_seconds
                LAG.set(max(0, self._store.head_position() - self.position))
                continue
            LAG.set(max(0, self._store.head_position() - self.position))
            LAG_SECONDS.set(0)
            if self._new_events is not None and self._new_events.wait(self._config.max_idle_sleep_seconds):
                continue  # an append committed: read at once
            if self._new_events is None:
                self._stop.wait(idle)
                idle = min(idle * 2, self._config.max_idle_sleep_seconds)


def kafka_record_of(event: RecordedEvent, schema_ids: RegisteredSchemaIds | None = None) -> KafkaRecord:
    """The event's message, with W3C trace context and its chain hash (ADR 0025); in the Confluent wire format under
    ``schema_ids`` when given (ADR 0028). The trace context is the one the event store kept with the event (the span
    that appended it; with tracing on the relay's producer span replaces it:
    :mod:`~eventledger_command.relay.telemetry`); for an event kept without one, the correlation id is the trace and
    the event the span, so that every message of one business conversation lands in one trace."""
    traceparent = event.trace_context or f"00-{event.correlation_id.hex}-{event.event_id.hex[:16]}-01"
    return to_kafka_record(
        to_envelope(event), traceparent=traceparent, event_hash=event.event_hash, schema_ids=schema_ids
    )
