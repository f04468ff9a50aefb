"""The projection runner: Kafka in, a read model out, exactly once in effect, poison events parked.

One iteration: consume a batch; decode each message (an undecodable one is parked at once); apply the decoded
events through the projection (which stores rows and progress together); retry failures with exponential backoff;
when a batch keeps failing, bisect it down to the event at fault and park that one in the dead-letter topic; then,
and only then, commit the Kafka offsets. Between batches: pause/resume and, every ``progress_interval``, the
position claim (relay checkpoint first, then high watermarks) and the lag metrics.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from eventledger_events import EventContractError, SchemaRegistryUnavailableError, default_avro_catalog
from eventledger_events.avro_codec import HEADER_LENGTH
from eventledger_events.schema_registry import CONFLUENT_HEADER_LENGTH, is_wire_format
from eventledger_projections.runtime import metrics
from eventledger_projections.runtime.decoding import decode_batch
from eventledger_projections.runtime.log import DeadLetterSink, EventLog
from eventledger_projections.runtime.port import (
    Applicable,
    LogMessage,
    OffsetsMoved,
    ParkedMessage,
    Projection,
    TopicPartition,
)
from eventledger_projections.runtime.telemetry import consumer_spans
from eventledger_runtime.instances import PartitionProgress
from eventledger_runtime.personal.opener import Opener, unopened
from eventledger_runtime.worker import StoppableLoop

log = logging.getLogger(__name__)

PARTITION_REFRESH_SECONDS = 60.0
EAGER_REFRESHES = 10
"""Refreshes at the eager interval after a batch, at most: a partition another member holds may stay behind (paused,
its member gone until the group rebalances), and then the regular interval is soon enough."""


@dataclass(frozen=True)
class RunnerConfig:
    """How a runner batches, retries and reports.

    ``after_store_write`` is a test-only seam: it runs after each batch's store write and before its Kafka offsets
    are committed (the fault tests kill the process there). Production leaves it ``None``.

    The position is refreshed every ``progress_interval``. After a batch that left the runner caught up, and while the
    read model does not yet reflect what it applied, every ``eager_progress_interval`` instead (``EAGER_REFRESHES``
    times at most; the consumer waits no longer than that), so that an event just applied becomes visible within
    about that interval of the relay recording it as published.
    """

    topic_namespace: str = ""
    batch_size: int = 500
    poll_timeout: float = 0.1
    max_attempts: int = 5
    backoff_initial: float = 0.05
    backoff_max: float = 5.0
    progress_interval: float = 0.2
    eager_progress_interval: float = 0.005
    announcement_wait: float = 0.02
    """How long an eager refresh waits for the relay to announce what was applied (when the runner is given a
    ``wait_for_relay``), at most: the claim then follows the announcement at once (ADR 0040)."""
    after_store_write: Callable[[int], None] | None = None
    opener: Opener = unopened
    """Opens each decoded event's personal fields (the process's :func:`~eventledger_runtime.personal.opener_for`
    the event store's database); tests of events without personal data leave them sealed."""


class _Stopped(Exception):
    """Internal: stop was requested while the runner waited; the batch in hand is abandoned, uncommitted."""


class ProjectionRunner(StoppableLoop):
    """Drives one :class:`Projection` from an :class:`EventLog`.

    Guarantees (given a projection that keeps its contract):
    - an event is applied, or parked in the dead-letter topic, before any offset past it is committed;
    - a failure the projection calls transient is retried forever (the store is down: parking would lose data);
      any other failure is retried ``max_attempts`` times, then the batch is bisected to the failing event,
      which alone is parked, and the projection goes on;
    - Kafka offsets are committed after the store write, and only ever for what was applied or parked;
    - ``pause()`` takes effect between batches: the batch in hand completes, nothing more is applied until
      ``resume()``, and the consumer stays in its group.
    """

    def __init__(
        self,
        projection: Projection,
        event_log: EventLog,
        dead_letters: DeadLetterSink,
        relay_position: Callable[[], int],
        config: RunnerConfig | None = None,
        wait_for_relay: Callable[[int, float], bool] | None = None,
    ) -> None:
        """``wait_for_relay(position, timeout)`` waits at most ``timeout`` seconds for the relay to announce
        ``position`` (True when it did): a caught-up runner claims as the announcement arrives instead of polling
        the relay's checkpoint (ADR 0040). Without it, eager refreshes poll."""
        self._projection = projection
        self._log = event_log
        self._dead_letters = dead_letters
        self._relay_position = relay_position
        self._wait_for_relay = wait_for_relay
        self._config = config or RunnerConfig()
        self._name = projection.name
        self.topics = [self._config.topic_namespace + topic for topic in projection.topics]
        super().__init__()
        self._pause_requested = threading.Event()
        self._paused: set[TopicPartition] = set()
        self._next_offsets: dict[TopicPartition, int] = {}
        self._partitions: list[TopicPartition] = []
        self._partitions_listed_at = float("-inf")
        self._last_refresh = float("-inf")
        self._applied_position = 0
        self._eager_refreshes_left = 0
        self._last_recorded_at: float | None = None
        self._subscribed = False
        self.batches = 0
        self.caught_up = False
        # What this instance knows of itself, for its heartbeat (read from another thread: replaced, never mutated).
        self.reflected = 0
        self.lag_seconds = 0.0
        self.assigned: tuple[PartitionProgress, ...] = ()

    # ------------------------------------------------------------------ control
    def pause(self) -> None:
        """Stop applying after the batch in hand; the consumer keeps its partitions and its group membership."""
        self._pause_requested.set()

    def resume(self) -> None:
        self._pause_requested.clear()

    @property
    def applied_position(self) -> int:
        """The highest position this runner applied (or passed) so far; not yet a claim that it is reflected."""
        return self._applied_position

    @property
    def paused(self) -> bool:
        return self._pause_requested.is_set()

    # ------------------------------------------------------------------ loop
    def start(self) -> None:
        """Join the group and declare every partition to the projection (before anything is applied, so that a
        partition never read keeps the reflected position down)."""
        if self._subscribed:
            return
        self._log.subscribe(self.topics, self._on_assign, self._on_revoke)
        self._subscribed = True
        attempt = 0
        while not self.refresh_progress():
            self._wait(self._backoff(attempt))
            attempt += 1

    def run(self) -> None:
        """Until ``stop``: consume, apply, commit; then leave the group."""
        try:
            self.start()
            while not self._stop.is_set():
                self.run_once()
        except _Stopped:
            log.info("%s: stopped while waiting; the batch in hand was not committed", self._name)
        finally:
            self._log.close()

    def run_once(self) -> int:
        """One iteration; answers how many messages were consumed."""
        self.start()
        self._sync_pause()
        timeout = min(self._config.poll_timeout, max(0.0, self._refresh_due() - time.monotonic()))
        messages = self._log.consume(self._config.batch_size, timeout)
        if messages:
            with consumer_spans(messages, self._name):
                self._handle(messages)
        if time.monotonic() >= self._refresh_due():
            if self._wait_for_relay is not None and self._eager():
                self._wait_for_relay(self._applied_position, self._config.announcement_wait)
            self.refresh_progress()
        return len(messages)

    def _eager(self) -> bool:
        return self._eager_refreshes_left > 0 and self._applied_position > self.reflected

    def _refresh_due(self) -> float:
        """When the position is next refreshed: soon while what this runner applied is not reflected yet (push
        visibility, ADR 0021), else at the regular interval."""
        eager = self._eager()
        regular = self._config.progress_interval
        interval = min(self._config.eager_progress_interval, regular) if eager else regular
        return self._last_refresh + interval

    # ------------------------------------------------------------------ one batch
    def _handle(self, messages: list[LogMessage]) -> None:
        if self._pause_requested.is_set():
            self._rewind(messages)  # fetched as the pause began (or on a new assignment): not ours to apply yet
            return
        if not self._schemas_known(messages):
            return
        started = time.perf_counter()
        decoded = decode_batch(
            messages,
            used=self._projection.event_types,
            records=self._projection.reads_records,
            opener=self._config.opener,
        )
        try:
            segment: list[Applicable] = []
            for message, event in zip(messages, decoded, strict=True):
                if not isinstance(event, str):
                    segment.append(event)
                    continue
                # Everything before an undecodable message is applied first: parking it moves the checkpoint.
                self._apply_or_isolate(segment, self._config.max_attempts)
                segment = []
                metrics.ERRORS.labels(self._name, "decode").inc()
                self._park(message, f"undecodable: {event}", position=None)
            self._apply_or_isolate(segment, self._config.max_attempts)
        except OffsetsMoved:
            log.info("%s: the read model's offsets moved (a version switch); seeking there", self._name)
            self._reseek()
            return
        offsets = _next_offsets(messages)
        self.batches += 1
        # Caught up (a batch short of full): refresh soon, a few times, until what was applied is reflected. With a
        # backlog (a full batch), throughput first: the regular interval.
        self._eager_refreshes_left = EAGER_REFRESHES if len(messages) < self._config.batch_size else 0
        if self._config.after_store_write is not None:
            self._config.after_store_write(self.batches)
        self._log.commit(offsets)
        self._next_offsets.update(offsets)
        metrics.BATCH_SECONDS.labels(self._name).observe(time.perf_counter() - started)
        metrics.BATCH_EVENTS.labels(self._name).observe(len(messages))

    def _schemas_known(self, messages: list[LogMessage]) -> bool:
        """Learn the writer schema of every wire-format message of the batch first (ADR 0028). When the schema
        registry cannot answer, the batch is rewound and retried after a pause: an outage is never a reason to park
        a message, and nothing of the batch is applied meanwhile."""
        catalog = default_avro_catalog()
        attempt = 0
        while True:
            try:
                # One look-up per writer schema: the value's first bytes name it (wire format: magic byte and id;
                # single-object encoding: marker and fingerprint).
                for value in {_schema_key(m.value): m.value for m in messages if m.value is not None}.values():
                    with contextlib.suppress(EventContractError):  # malformed: decoding parks it
                        catalog.writer_schema_of(value)
                return True
            except SchemaRegistryUnavailableError as error:
                metrics.ERRORS.labels(self._name, "schema-registry").inc()
                log.warning("%s: cannot read the batch's schemas yet: %s", self._name, error)
                if attempt >= self._config.max_attempts:
                    self._rewind(messages)
                    return False
                self._wait(self._backoff(attempt))
                attempt += 1

    def _apply_or_isolate(self, events: list[Applicable], attempts: int) -> None:
        """Apply ``events``; if they keep failing, bisect down to the failing event and park it alone."""
        if not events:
            return
        failure = self._try_apply(events, attempts)
        if failure is None:
            return
        if len(events) == 1:
            event = events[0]
            reason = f"apply failed {self._config.max_attempts} times: {self._projection.describe(failure)}"
            log.error("%s: parking %s at %s", self._name, event.kind, _where(event.message))
            self._park(event.message, reason, position=event.position)
            return
        middle = len(events) // 2
        for half in (events[:middle], events[middle:]):
            self._apply_or_isolate(half, self._config.max_attempts if len(half) == 1 else 1)

    def _try_apply(self, events: list[Applicable], attempts: int) -> Exception | None:
        """None once applied; the last failure after ``attempts`` non-transient failures."""
        failures = 0
        outage = 0
        while True:
            try:
                self._projection.apply(events)
            except OffsetsMoved:
                raise
            except Exception as error:
                if self._projection.is_transient(error):
                    metrics.ERRORS.labels(self._name, "transient").inc()
                    log.warning("%s: store unavailable, retrying: %s", self._name, self._projection.describe(error))
                    self._wait(self._backoff(outage))
                    outage += 1
                    continue
                metrics.ERRORS.labels(self._name, "apply").inc()
                failures += 1
                if failures >= attempts:
                    return error
                log.warning(
                    "%s: apply failed (attempt %d), retrying: %s",
                    self._name,
                    failures,
                    self._projection.describe(error),
                )
                self._wait(self._backoff(failures - 1))
                continue
            metrics.APPLIED.labels(self._name).inc(len(events))
            self._applied_position = max(self._applied_position, *(event.position for event in events))
            recorded_at = events[-1].recorded_at
            if recorded_at is not None:
                self._last_recorded_at = recorded_at.timestamp()
            return None

    def _park(self, message: LogMessage, reason: str, *, position: int | None) -> None:
        """Send to the dead-letter topic (until acknowledged), then record progress past the message."""
        attempt = 0
        while True:
            try:
                self._dead_letters.park(message, projection=self._name, reason=reason)
                break
            except Exception as error:
                metrics.ERRORS.labels(self._name, "dead_letter").inc()
                log.warning("%s: cannot park %s yet: %s", self._name, _where(message), error)
                self._wait(self._backoff(attempt))
                attempt += 1
        metrics.DEAD_LETTERS.labels(self._name).inc()
        parked = [ParkedMessage(message.topic, message.partition, message.offset, position)]
        self._store_call(lambda: self._projection.skip(parked))

    def _store_call(self, call: Callable[[], object]) -> object:
        """Run a store call that must succeed (progress bookkeeping), retrying with backoff."""
        attempt = 0
        while True:
            try:
                return call()
            except OffsetsMoved:
                raise
            except Exception as error:
                kind = "transient" if self._projection.is_transient(error) else "progress"
                metrics.ERRORS.labels(self._name, kind).inc()
                log.warning("%s: store call failed, retrying: %s", self._name, error)
                self._wait(self._backoff(attempt))
                attempt += 1

    # ------------------------------------------------------------------ assignment and offsets
    def _on_assign(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        stored = self._store_call(self._projection.load_offsets)
        if stored is None:
            starts: dict[TopicPartition, int | None] = dict.fromkeys(partitions)
        else:
            assert isinstance(stored, Mapping)
            starts = {tp: int(stored.get(tp, 0)) for tp in partitions}
        for tp, offset in starts.items():
            if offset is not None:
                self._next_offsets[tp] = offset
        log.info("%s: assigned %s", self._name, ", ".join(f"{t}[{p}]@{starts[(t, p)]}" for t, p in partitions))
        return starts

    def _on_revoke(self, partitions: Sequence[TopicPartition]) -> None:
        revoked = set(partitions)
        self.assigned = tuple(p for p in self.assigned if (p.topic, p.partition) not in revoked)
        for tp in partitions:
            self._next_offsets.pop(tp, None)
            self._paused.discard(tp)
            with contextlib.suppress(KeyError):
                metrics.LAG_EVENTS.remove(self._name, tp[0], str(tp[1]))
        log.info("%s: revoked %s", self._name, ", ".join(f"{t}[{p}]" for t, p in partitions))

    def _reseek(self) -> bool:
        stored = self._store_call(self._projection.load_offsets)
        assert isinstance(stored, Mapping)
        targets = {tp: int(stored.get(tp, 0)) for tp in self._log.assignment()}
        self._log.seek(targets)
        self._next_offsets.update(targets)
        return self.refresh_progress(follow_switch=False)

    def _rewind(self, messages: list[LogMessage]) -> None:
        first: dict[TopicPartition, int] = {}
        for message in messages:
            first.setdefault(message.topic_partition, message.offset)
        self._log.seek(first)

    def _sync_pause(self) -> None:
        if self._pause_requested.is_set():
            fresh = set(self._log.assignment()) - self._paused
            if fresh:
                self._log.pause(fresh)
                self._paused |= fresh
                log.info("%s: paused %d partitions", self._name, len(fresh))
            metrics.PAUSED.labels(self._name).set(1)
        elif self._paused:
            self._log.resume(self._paused & set(self._log.assignment()))
            self._paused.clear()
            log.info("%s: resumed", self._name)
            metrics.PAUSED.labels(self._name).set(0)

    # ------------------------------------------------------------------ position claim and lag
    def refresh_progress(self, *, follow_switch: bool = True) -> bool:
        """Tell the projection which partitions are caught up, and update the lag metrics; False on failure.

        The order matters: the relay's checkpoint is read *before* the high watermarks, so that every event at or
        below it is already below the watermark of its partition (docs/adr/0007-projection-runtime.md).
        """
        self._last_refresh = time.monotonic()
        self._eager_refreshes_left = max(0, self._eager_refreshes_left - 1)
        try:
            if not self._partitions or self._last_refresh - self._partitions_listed_at > PARTITION_REFRESH_SECONDS:
                self._partitions = self._log.partitions(self.topics)
                self._partitions_listed_at = self._last_refresh
            relay_position = self._relay_position()
            watermarks = self._log.high_watermarks(self._partitions)
            reflected = self._projection.claim(relay_position, watermarks)
        except OffsetsMoved:
            if not follow_switch:
                return False
            log.info("%s: the read model's offsets moved (a version switch); seeking there", self._name)
            return self._reseek()
        except Exception as error:
            metrics.ERRORS.labels(self._name, "progress").inc()
            log.warning("%s: cannot refresh progress: %s", self._name, error)
            return False
        metrics.REFLECTED_POSITION.labels(self._name).set(reflected)
        self.reflected = reflected
        self._update_lag(watermarks)
        return bool(self._partitions)

    def _update_lag(self, watermarks: Mapping[TopicPartition, int]) -> None:
        behind = False
        assigned = []
        for tp in sorted(self._log.assignment()):
            next_offset = self._next_offsets.get(tp)
            high = watermarks.get(tp)
            lag = None if next_offset is None or high is None else max(0, high - next_offset)
            assigned.append(PartitionProgress(tp[0], tp[1], next_offset, lag))
            if lag is None:
                continue
            behind = behind or lag > 0
            metrics.LAG_EVENTS.labels(self._name, tp[0], str(tp[1])).set(lag)
        self.assigned = tuple(assigned)
        self.caught_up = not behind
        if not behind or self._last_recorded_at is None:
            self.lag_seconds = 0.0
        else:
            self.lag_seconds = max(0.0, time.time() - self._last_recorded_at)
        metrics.LAG_SECONDS.labels(self._name).set(self.lag_seconds)

    # ------------------------------------------------------------------ helpers
    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._config.backoff_max, self._config.backoff_initial * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)

    def _wait(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped


def _next_offsets(messages: Iterable[LogMessage]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for message in messages:
        tp = message.topic_partition
        offsets[tp] = max(offsets.get(tp, 0), message.offset + 1)
    return offsets


def _schema_key(value: bytes) -> bytes:
    """The leading bytes of a value that name its writer schema (wire format: magic byte and schema id; single-object
    encoding: marker and fingerprint)."""
    return value[: CONFLUENT_HEADER_LENGTH if is_wire_format(value) else HEADER_LENGTH]


def _where(message: LogMessage) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"
