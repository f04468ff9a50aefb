"""The faust app: the transfers topic in, window cells in Redis, the derived topic out.

Per message (an agent over ``<namespace>eventledger.transfers.v2``, values in the Confluent wire format), in offset
order per source partition (:class:`Cursor` keeps it):

1. decode it (``envelope_from_kafka``); an undecodable message goes to the dead-letter topic with the reason;
2. a posting (``transfer.posted`` or ``transfer.pending_posted``) is counted in its windows (:mod:`.windows`, in
   event time: ``recorded-at``), one cell per window, currency and source partition, by one script call in Redis
   (:mod:`.sink`): idempotent per cell, and it moves the partition's progress to the message's offset. Retried while
   Redis is unreachable, *before* the agent takes the next message; a posting the script refuses is parked.

Redis holds the cells and the progress; the job keeps no state of its own (no faust tables: see ADR 0010 for the
faust changelog and offset bugs that made them lose counts after a SIGKILL). The progress in Redis, not the consumer
group's committed offset, says where a partition resumes: if a message arrives past the next expected offset (faust
acks messages it skipped while a rebalance settled; a restart resumes from a committed offset ahead of the counts),
the job reads the gap itself, with a consumer of no group, before it handles that message.

Every ``publish_interval`` the leader publishes the windows that changed to the derived topic (:mod:`.publisher`);
every second the progress of partitions that read only messages that count nothing is saved.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import faust
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.exceptions import BusyLoadingError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from eventledger_events import TRANSFERS_TOPIC, EventEnvelope, SchemaRegistryUnavailableError, envelope_from_kafka
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC, dead_letter_headers
from eventledger_projections.runtime.port import LogMessage
from eventledger_projections.runtime.telemetry import consumer_spans
from eventledger_projections.streaming import metrics
from eventledger_projections.streaming.publisher import DERIVED_TOPIC, WindowPublisher, producer_settings
from eventledger_projections.streaming.sink import RedisWindowSink, progress_key
from eventledger_projections.streaming.transport import IdempotentTransport
from eventledger_projections.streaming.windows import posted_transfer as posting_of
from eventledger_projections.streaming.windows import windows_of
from eventledger_runtime import tracing
from eventledger_runtime.logs import kafka_client_logging
from eventledger_runtime.settings import Servers, StreamingSettings

log = logging.getLogger(__name__)

PROJECTION_NAME = "stream-windows"
"""How the job names itself in the dead-letter headers (``dlq-projection``)."""

RawHeaders = Iterable[tuple[str, bytes | None]]
T = TypeVar("T")


def source_partitions(bootstrap: str, topic: str, timeout: float = 10.0) -> int:
    """How many partitions the source topic has: faust creates its internal topics with as many."""
    from confluent_kafka.admin import AdminClient

    metadata = (
        AdminClient({"bootstrap.servers": bootstrap, **kafka_client_logging()})
        .list_topics(topic, timeout=timeout)
        .topics.get(topic)
    )
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise LookupError(f"topic {topic} does not exist yet")
    return len(metadata.partitions)


def worker_data_dir(state_dir: Path, ops_port: int) -> Path:
    """faust's data folder for the worker whose ops endpoint is ``ops_port``: one per worker of the app on a host
    (faust keeps a worker's local state there; two workers must not share one), under ``<state>/streaming/``."""
    return state_dir / "streaming" / f"worker-{ops_port}"


def worker_url(ops_port: int) -> str:
    """How faust names this worker to the other members of its group (its ``canonical_url``, sent with every join):
    the host and the ops port, so that two workers of the app never pass for one (faust's web server, which the
    setting would otherwise describe, is off)."""
    return f"http://{socket.gethostname()}:{ops_port}"


def _log_message(message: Any) -> LogMessage:
    return LogMessage(
        message.topic, message.partition, message.offset, message.key, message.value, tuple(_pairs(message.headers))
    )


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
    """Past the next expected offset: the messages between were never handled. Read them first, then handle it."""


@dataclass
class Cursor:
    """Where one source partition stands, in one consumer generation: ``expected`` is the next offset to handle;
    every offset below it has its effect in Redis. ``saved`` is the progress last written to Redis."""

    generation: int | None
    expected: int
    saved: int

    def verdict(self, offset: int) -> Verdict:
        if offset == self.expected:
            return Verdict.HANDLE
        return Verdict.DONE if offset < self.expected else Verdict.GAP

    def handled(self, offset: int) -> None:
        self.expected = offset + 1


class TransferWindowsJob:
    """One faust app and what it writes to. Build it, then run ``app`` with a faust worker."""

    def __init__(self, settings: StreamingSettings, infra: Servers, partitions: int) -> None:
        self.settings = settings
        self.infra = infra
        self.partitions = partitions
        namespace = settings.names.topic_prefix
        datadir = worker_data_dir(infra.state_dir, settings.ops_port)
        datadir.parent.mkdir(parents=True, exist_ok=True)  # faust creates only the last folder
        self.app = faust.App(
            settings.app_id,
            broker=f"kafka://{infra.kafka_bootstrap}",
            store="memory://",
            datadir=str(datadir),
            web_enabled=False,
            canonical_url=worker_url(settings.ops_port),
            processing_guarantee="at_least_once",
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            topic_partitions=partitions,
            topic_replication_factor=1,
            broker_commit_interval=1.0,
            broker_session_timeout=settings.session_timeout_seconds,
            broker_heartbeat_interval=max(0.5, settings.session_timeout_seconds / 10),
            broker_request_timeout=max(90.0, settings.session_timeout_seconds * 2),
            key_serializer="raw",
            value_serializer="raw",
        )
        self.app.transport = IdempotentTransport(self.app.conf.broker_consumer, self.app)
        self.source = self.app.topic(namespace + TRANSFERS_TOPIC, key_serializer="raw", value_serializer="raw")
        self.derived_topic = namespace + DERIVED_TOPIC
        self.dead_letter_topic = namespace + DEAD_LETTER_TOPIC
        self.cursors: dict[int, Cursor] = {}
        self.app.agent(self.source, name="transfer-windows")(self._consume)
        self.app.timer(settings.publish_interval_seconds, on_leader=True)(self._publish)
        self.app.timer(1.0)(self._save_progress)
        self.app.on_before_shutdown.connect(self._close)
        self._redis: aioredis.Redis | None = None
        self._sink: RedisWindowSink | None = None
        self._producer: AIOKafkaProducer | None = None
        self._gap_reader: AIOKafkaConsumer | None = None

    @property
    def progress_key(self) -> str:
        """The Redis hash of each source partition's progress (see :mod:`.sink`)."""
        return progress_key(self.settings.names.redis_base)

    # ------------------------------------------------------------------ resources (created in faust's loop)
    async def sink(self) -> RedisWindowSink:
        if self._sink is None:
            self._redis = aioredis.Redis.from_url(
                self.infra.redis_url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=2.0
            )
            self._sink = RedisWindowSink(self._redis, base=self.settings.names.redis_base)
        return self._sink

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(**producer_settings(self.infra.kafka_bootstrap, f"{self.settings.app_id}-out"))
            await producer.start()
            self._producer = producer
        return self._producer

    async def gap_reader(self) -> AIOKafkaConsumer:
        """A consumer of no consumer group, for reading gaps: faust's own consumer is never moved."""
        if self._gap_reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.infra.kafka_bootstrap,
                client_id=f"{self.settings.app_id}-gaps",
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await reader.start()
            self._gap_reader = reader
        return self._gap_reader

    async def _close(self, *_: Any, **__: Any) -> None:
        await self._save_progress()
        if self._gap_reader is not None:
            await self._gap_reader.stop()
        if self._producer is not None:
            await self._producer.stop()
        if self._redis is not None:
            await self._redis.aclose()

    # ------------------------------------------------------------------ gaps
    async def read_gap(self, partition: int, start: int, end: int) -> AsyncIterator[Any]:
        """The messages of the source ``partition`` from ``start`` up to ``end`` (excluded), in offset order. Offsets
        that retention already deleted are not there: the first message may be past ``start``."""
        reader = await self.gap_reader()
        tp = TopicPartition(self.source.get_topic_name(), partition)
        reader.assign([tp])
        reader.seek(tp, start)
        while True:
            records = (await reader.getmany(tp, timeout_ms=1000, max_records=500)).get(tp, [])
            for record in records:
                if record.offset >= end:
                    return
                yield record
                if record.offset == end - 1:
                    return
            if not records and await reader.position(tp) >= end:
                return

    # ------------------------------------------------------------------ the agent
    async def _consume(self, stream: Any) -> None:
        async for event in stream.events():
            await self.handle(event.message)

    async def handle(self, message: Any) -> None:
        """Handle one message of the source topic, in offset order per partition (see :class:`Cursor`)."""
        cursor = await self._cursor(message)
        verdict = cursor.verdict(message.offset)
        if verdict is Verdict.DONE:
            metrics.EVENTS.labels("skipped").inc()
            return
        if verdict is Verdict.GAP:
            await self._fill_gap(cursor, message)
        await self._handle(message, cursor)

    async def _fill_gap(self, cursor: Cursor, message: Any) -> None:
        """Handle the messages between the cursor and ``message``, which the consumer never handed over."""
        log.warning(
            "partition %d: offset %d arrived but %d is next; reading the gap",
            message.partition,
            message.offset,
            cursor.expected,
        )
        async for record in self.read_gap(message.partition, cursor.expected, message.offset):
            if record.offset > cursor.expected:
                self._deleted(message.partition, cursor.expected, record.offset)
            metrics.GAP_MESSAGES.inc()
            await self._handle(record, cursor)
        if cursor.expected < message.offset:
            self._deleted(message.partition, cursor.expected, message.offset)

    @staticmethod
    def _deleted(partition: int, start: int, end: int) -> None:
        if start > 0:  # from offset 0: a partition whose beginning retention deleted, read for the first time
            log.error("partition %d: offsets %d to %d were deleted before they were counted", partition, start, end - 1)

    async def _cursor(self, message: Any) -> Cursor:
        """The partition's cursor; on the first message of a consumer generation, resumed from Redis's progress."""
        cursor = self.cursors.get(message.partition)
        if cursor is not None and cursor.generation == message.generation_id:
            return cursor
        sink = await self.sink()
        progress = await self._until_redis_answers(lambda: sink.progress(message.partition))
        if progress is None:  # nothing counted from this partition yet: from its beginning
            expected, saved = 0, -1
        else:
            expected, saved = progress + 1, progress
        cursor = Cursor(message.generation_id, expected, saved)
        self.cursors[message.partition] = cursor
        return cursor

    async def _handle(self, message: Any, cursor: Cursor) -> None:
        """Count (or ignore, or park) the message, then move the cursor past it; with tracing on, inside a consumer
        span continuing the relay's (ADR 0032)."""
        traced = [_log_message(message)] if tracing.enabled() else []
        with consumer_spans(traced, PROJECTION_NAME):
            if await self._count(message):
                cursor.saved = message.offset  # the count script moved the progress with the counts
        cursor.handled(message.offset)

    async def _count(self, message: Any) -> bool:
        """Whether the message was counted (its offset is then the partition's progress in Redis)."""
        try:
            envelope = await self._until_registry_answers(message)
            posted = posting_of(envelope)
        except Exception as error:
            metrics.EVENTS.labels("parked").inc()
            await self._park(message, f"undecodable: {type(error).__name__}: {error}")
            return False
        if posted is None:
            metrics.EVENTS.labels("ignored").inc()
            return False
        sink = await self.sink()
        windows = windows_of(posted)
        try:
            changed = await self._until_redis_answers(
                lambda: sink.count(message.partition, message.offset, posted, windows)
            )
        except RedisError as error:  # refused by the script, not an outage: this posting cannot be counted
            metrics.EVENTS.labels("parked").inc()
            await self._park(message, f"refused by Redis: {type(error).__name__}: {error}")
            return False
        metrics.CELLS.inc(changed)
        metrics.EVENTS.labels("counted").inc()
        return True

    async def _until_registry_answers(self, message: Any) -> EventEnvelope:
        """The message's envelope; while the schema registry cannot tell a wire-format message's schema, retried (an
        outage is never a reason to park a message: ADR 0028)."""
        pause = 0.05
        while True:
            try:
                return envelope_from_kafka(message.key, message.value, _pairs(message.headers))
            except SchemaRegistryUnavailableError as error:
                metrics.RETRIES.labels("schema-registry").inc()
                log.warning("schema registry unavailable, retrying: %s", error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _until_redis_answers(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, retried while Redis is unreachable (the message is not done before: never skipped)."""
        pause = 0.05
        while True:
            try:
                return await call()
            except (RedisConnectionError, RedisTimeoutError, BusyLoadingError, OSError) as error:
                metrics.RETRIES.labels("redis").inc()
                log.warning("Redis unavailable, retrying: %s", error)
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
        original = _log_message(message)
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
