"""The relay loop: read the log from the checkpoint, publish, and only then move the checkpoint."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_command.eventstore.port import EventStore
from eventledger_command.eventstore.records import RecordedEvent
from eventledger_command.relay.publisher import EventPublisher, PublishFailed
from eventledger_events import KafkaRecord, to_kafka_record
from eventledger_runtime.eventlog import EventLogReader
from eventledger_runtime.worker import StoppableLoop

log = logging.getLogger(__name__)

PUBLISHED = Counter("eventledger_relay_published_events_total", "Events published to Kafka (acknowledged)")
FAILURES = Counter("eventledger_relay_publish_failures_total", "Batches the broker did not fully acknowledge")
CHECKPOINT = Gauge("eventledger_relay_checkpoint_position", "Global position up to which every event is published")
LAG = Gauge("eventledger_relay_lag_events", "Events recorded but not yet published (head - checkpoint)")
LAG_SECONDS = Gauge("eventledger_relay_lag_seconds", "Age of the oldest event not yet published when last seen")


@dataclass(frozen=True)
class RelayConfig:
    checkpoint_name: str = "kafka-relay"
    batch_size: int = 2000
    idle_sleep_seconds: float = 0.005
    max_idle_sleep_seconds: float = 0.05
    retry_sleep_seconds: float = 1.0
    topic_namespace: str = ""


class Relay(StoppableLoop):
    """Publishes the global log to Kafka at least once, in log order per stream.

    Per stream order holds because a batch is published in position order by an idempotent producer with gapless
    delivery, and a batch that was not fully acknowledged is published again from its first event. The relay keeps
    its place in the log as a checkpoint of ``checkpoints`` (the event-log reader), saved only after the broker
    acknowledged every event up to it.
    """

    def __init__(
        self, store: EventStore, publisher: EventPublisher, checkpoints: EventLogReader, config: RelayConfig
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._checkpoints = checkpoints
        self._config = config
        super().__init__()
        self.position = checkpoints.checkpoint(config.checkpoint_name)
        CHECKPOINT.set(self.position)

    def run_once(self) -> int:
        """Publish one batch; returns how many events were published (0 when the log has nothing new)."""
        events = self._store.read_all(after_position=self.position, limit=self._config.batch_size, wait=0.2)
        if not events:
            return 0
        LAG_SECONDS.set(max(0.0, time.time() - events[0].recorded_at.timestamp()))
        records = [self._record(kafka_record_of(event)) for event in events]
        self._publisher.publish(records, should_stop=self._stop.is_set)
        last = events[-1].position
        self._checkpoints.save_checkpoint(self._config.checkpoint_name, last)
        self.position = last
        PUBLISHED.inc(len(events))
        CHECKPOINT.set(last)
        return len(events)

    def _record(self, record: KafkaRecord) -> KafkaRecord:
        """The record under the configured topic namespace (tests run their own topics side by side)."""
        if not self._config.topic_namespace:
            return record
        return KafkaRecord(self._config.topic_namespace + record.topic, record.key, record.value, record.headers)

    def run(self) -> None:
        """Until ``stop``: publish what is new, sleep a little when idle, retry after a failed batch."""
        idle = self._config.idle_sleep_seconds
        while not self._stop.is_set():
            try:
                published = self.run_once()
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
            self._stop.wait(idle)
            idle = min(idle * 2, self._config.max_idle_sleep_seconds)


def kafka_record_of(event: RecordedEvent) -> KafkaRecord:
    """The event's message, with W3C trace context: the correlation id is the trace, the event the span, so
    that every message of one business conversation lands in one trace."""
    traceparent = f"00-{event.correlation_id.hex}-{event.event_id.hex[:16]}-01"
    return to_kafka_record(to_envelope(event), traceparent=traceparent)
