"""The faust app: the transfers topic in, window cells in Redis, the derived topic out.

Per message (an agent over ``<namespace>eventledger.transfers.v1``, Avro single-object values), in offset order per
source partition (:class:`Sequence` guards it):

1. decode it (``envelope_from_kafka``); an undecodable message goes to the dead-letter topic with the reason;
2. a posting (``transfer.posted`` or ``transfer.pending_posted``) is counted in its windows (:mod:`.windows`, in
   event time: ``recorded-at``), one cell per window, currency and source partition, by one script call in Redis
   (:mod:`.sink`): idempotent per cell, and it moves the partition's progress to the message's offset. Retried until
   Redis answers, *before* the agent takes the next message.

Redis holds the cells and the progress; the job keeps no state of its own (no faust tables: see ADR 0010 for the
faust changelog and offset bugs that made them lose counts after a SIGKILL). The progress in Redis, not the consumer
group's committed offset, says where a partition resumes: if a message arrives past the next expected offset (faust
acks messages it skipped while a rebalance settled), the job rewinds the partition and reads the gap first.

Every ``publish_interval`` the leader publishes the windows that changed to the derived topic (:mod:`.publisher`);
every second the progress of partitions that read only messages that count nothing is saved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import faust
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError

from eventledger_events import TRANSFERS_TOPIC, envelope_from_kafka
from eventledger_infra.settings import Settings
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC, dead_letter_headers
from eventledger_projections.runtime.port import LogMessage
from eventledger_projections.streaming import metrics
from eventledger_projections.streaming.publisher import DERIVED_TOPIC, WindowPublisher, producer_settings
from eventledger_projections.streaming.settings import StreamingSettings
from eventledger_projections.streaming.sink import RedisWindowSink
from eventledger_projections.streaming.transport import IdempotentTransport
from eventledger_projections.streaming.windows import posted_transfer as posting_of
from eventledger_projections.streaming.windows import windows_of

log = logging.getLogger(__name__)

PROJECTION_NAME = "stream-windows"
"""How the job names itself in the dead-letter headers (``dlq-projection``)."""

RawHeaders = Iterable[tuple[str, bytes | None]]
T = TypeVar("T")


def source_partitions(bootstrap: str, topic: str, timeout: float = 10.0) -> int:
    """How many partitions the source topic has: faust creates its internal topics with as many."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise LookupError(f"topic {topic} does not exist yet")
    return len(metadata.partitions)


def _pairs(headers: Mapping[str, bytes] | RawHeaders | None) -> list[tuple[str, bytes | None]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


class Verdict(Enum):
    """What the job does with a message, given where its partition stands."""

    HANDLE = "handle"
    """The next expected offset: handle it."""
    DONE = "done"
    """Below the next expected offset: its effect is already in Redis (a redelivery): skip it."""
    GAP = "gap"
    """Past the next expected offset: messages between were never handled. Skip it and rewind."""
    REWINDING = "rewinding"
    """Past the next expected offset while a rewind is under way (fetched before the rewind): skip it."""


@dataclass
class Cursor:
    """Where one source partition stands, in one consumer generation: ``expected`` is the next offset to handle;
    every offset below it has its effect in Redis. ``saved`` is the progress last written to Redis."""

    generation: int | None
    expected: int
    saved: int
    rewound_at: float | None = None

    def verdict(self, offset: int, now: float) -> Verdict:
        if offset == self.expected:
            self.rewound_at = None
            return Verdict.HANDLE
        if offset < self.expected:
            return Verdict.DONE
        if self.rewound_at is not None and now - self.rewound_at < REWIND_PATIENCE:
            return Verdict.REWINDING
        self.rewound_at = now
        return Verdict.GAP

    def handled(self, offset: int) -> None:
        self.expected = offset + 1


REWIND_PATIENCE = 5.0
"""Seconds a rewind is given to bring the expected offset back before it is asked for again."""


class TransferWindowsJob:
    """One faust app and what it writes to. Build it, then run ``app`` with a faust worker."""

    def __init__(self, settings: StreamingSettings, infra: Settings, partitions: int) -> None:
        self.settings = settings
        self.infra = infra
        namespace = settings.topic_namespace
        self.app = faust.App(
            settings.app_id,
            broker=f"kafka://{infra.kafka_bootstrap}",
            store="memory://",
            datadir=str(settings.data_dir),
            web_enabled=False,
            processing_guarantee="at_least_once",
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            topic_partitions=partitions,
            topic_replication_factor=1,
            broker_commit_interval=1.0,
            broker_session_timeout=settings.session_timeout,
            broker_heartbeat_interval=max(0.5, settings.session_timeout / 10),
            broker_request_timeout=max(90.0, settings.session_timeout * 2),
            key_serializer="raw",
            value_serializer="raw",
        )
        self.app.transport = IdempotentTransport(self.app.conf.broker_consumer, self.app)
        self.source = self.app.topic(namespace + TRANSFERS_TOPIC, key_serializer="raw", value_serializer="raw")
        self.derived_topic = namespace + DERIVED_TOPIC
        self.dead_letter_topic = namespace + DEAD_LETTER_TOPIC
        self.cursors: dict[int, Cursor] = {}
        self.app.agent(self.source, name="transfer-windows")(self._consume)
        self.app.timer(settings.publish_interval, on_leader=True)(self._publish)
        self.app.timer(1.0)(self._save_progress)
        self.app.on_before_shutdown.connect(self._close)
        self._redis: aioredis.Redis | None = None
        self._sink: RedisWindowSink | None = None
        self._producer: AIOKafkaProducer | None = None

    # ------------------------------------------------------------------ resources (created in faust's loop)
    async def sink(self) -> RedisWindowSink:
        if self._sink is None:
            self._redis = aioredis.Redis.from_url(
                self.infra.redis_url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=2.0
            )
            self._sink = RedisWindowSink(self._redis, base=self.settings.redis_prefix)
        return self._sink

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(**producer_settings(self.infra.kafka_bootstrap, f"{self.settings.app_id}-out"))
            await producer.start()
            self._producer = producer
        return self._producer

    async def _close(self, *_: Any, **__: Any) -> None:
        await self._save_progress()
        if self._producer is not None:
            await self._producer.stop()
        if self._redis is not None:
            await self._redis.aclose()

    # ------------------------------------------------------------------ the consumer's positions (faust)
    async def rewind(self, tp: Any, offset: int) -> None:
        """Make the consumer read ``tp`` again from ``offset``."""
        await self.app.consumer.seek(tp, offset)

    async def earliest(self, tp: Any) -> int:
        """The first offset ``tp`` still holds (retention may have deleted older ones)."""
        return int((await self.app.consumer.earliest_offsets(tp))[tp])

    # ------------------------------------------------------------------ the agent
    async def _consume(self, stream: Any) -> None:
        async for event in stream.events():
            await self.handle(event.message)

    async def handle(self, message: Any) -> None:
        """Handle one message of the source topic, in offset order per partition (see :class:`Cursor`)."""
        cursor = await self._cursor(message)
        verdict = cursor.verdict(message.offset, time.monotonic())
        if verdict is Verdict.GAP:
            earliest = await self._until_answered(lambda: self.earliest(message.tp), "kafka")
            if earliest > cursor.expected:
                log.error(
                    "partition %d: offsets %d to %d were deleted by retention before they were counted",
                    message.partition,
                    cursor.expected,
                    earliest - 1,
                )
                cursor.expected = earliest
                verdict = cursor.verdict(message.offset, time.monotonic())
        if verdict is Verdict.GAP:
            metrics.REWINDS.inc()
            log.warning(
                "partition %d: offset %d arrived but %d is next (the consumer skipped messages); rewinding",
                message.partition,
                message.offset,
                cursor.expected,
            )
            await self.rewind(message.tp, cursor.expected)
            return
        if verdict is not Verdict.HANDLE:
            metrics.EVENTS.labels("skipped" if verdict is Verdict.DONE else "rewinding").inc()
            return
        await self._handle(message)
        cursor.handled(message.offset)

    async def _cursor(self, message: Any) -> Cursor:
        """The partition's cursor; on the first message of a consumer generation, resumed from Redis's progress."""
        cursor = self.cursors.get(message.partition)
        if cursor is not None and cursor.generation == message.generation_id:
            return cursor
        sink = await self.sink()
        progress = await self._until_answered(lambda: sink.progress(message.partition), "redis")
        if progress is None:  # nothing counted from this partition yet: from its first offset
            expected = await self._until_answered(lambda: self.earliest(message.tp), "kafka")
            saved = expected - 1
        else:
            expected, saved = progress + 1, progress
        cursor = Cursor(message.generation_id, expected, saved)
        self.cursors[message.partition] = cursor
        return cursor

    async def _handle(self, message: Any) -> None:
        try:
            envelope = envelope_from_kafka(message.key, message.value, _pairs(message.headers))
            posted = posting_of(envelope)
        except Exception as error:
            metrics.EVENTS.labels("parked").inc()
            await self._park(message, f"undecodable: {type(error).__name__}: {error}")
            return
        if posted is None:
            metrics.EVENTS.labels("ignored").inc()
            return
        sink = await self.sink()
        windows = windows_of(posted)
        changed = await self._until_answered(lambda: sink.count(message.partition, message.offset, posted, windows))
        metrics.CELLS.inc(changed)
        self.cursors[message.partition].saved = message.offset
        metrics.EVENTS.labels("counted").inc()

    async def _until_answered(self, call: Callable[[], Awaitable[T]], dependency: str = "redis") -> T:
        """``call()``, retried until it answers (the message is not done before: never skipped)."""
        pause = 0.05
        while True:
            try:
                return await call()
            except (RedisError, OSError, KafkaError) as error:
                metrics.RETRIES.labels(dependency).inc()
                log.warning("%s unavailable, retrying: %s", dependency, error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _save_progress(self) -> None:
        """Save how far each partition was read when its last messages counted nothing (postings save their own)."""
        moved = {p: c.expected - 1 for p, c in self.cursors.items() if c.expected - 1 > c.saved}
        if not moved:
            return
        try:
            await (await self.sink()).advance(moved)
        except (RedisError, OSError) as error:  # the next tick saves it; until then a restart reads a little more
            metrics.RETRIES.labels("redis").inc()
            log.warning("cannot save the progress yet: %s", error)
            return
        for partition, offset in moved.items():
            self.cursors[partition].saved = max(self.cursors[partition].saved, offset)

    async def _park(self, message: Any, reason: str) -> None:
        """Send the message to the dead-letter topic with the reason; until the broker acknowledged.

        Key, value and headers are the original's, except that a message with neither key nor value (which the
        producer refuses to send) is parked with an empty value."""
        original = LogMessage(
            message.topic, message.partition, message.offset, message.key, message.value, tuple(_pairs(message.headers))
        )
        headers = dead_letter_headers(original, projection=PROJECTION_NAME, reason=reason)
        log.error("parking %s[%d]@%d: %s", message.topic, message.partition, message.offset, reason)
        pause = 0.1
        while True:
            try:
                producer = await self.producer()
                value = message.value if message.value is not None or message.key is not None else b""
                await producer.send_and_wait(self.dead_letter_topic, value=value, key=message.key, headers=headers)
                return
            except Exception as error:
                metrics.RETRIES.labels("kafka").inc()
                log.warning("cannot park yet: %s", error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    # ------------------------------------------------------------------ the derived topic
    async def _publish(self) -> None:
        try:
            publisher = WindowPublisher(await self.producer(), await self.sink(), self.derived_topic)
            metrics.PUBLISHED.inc(await publisher.publish_dirty())
        except Exception as error:  # the windows stay dirty: the next tick publishes them
            metrics.RETRIES.labels("publish").inc()
            log.warning("publishing the window figures failed, will retry: %s", error)
