"""The faust app: the transfers topic in, two windowed tables, Redis and the derived topic out.

Per message (an agent over ``<namespace>eventledger.transfers.v1``, Avro single-object values):

1. decode it (``envelope_from_kafka``); an undecodable message goes to the dead-letter topic with the reason;
2. a posting (``transfer.posted`` or ``transfer.pending_posted``) is folded into both windowed tables under the
   key ``<currency>|<source partition>``, in event time (``recorded-at``): the tumbling one-minute table and the
   five-minute table hopping every minute. The fold is idempotent per cell (:mod:`.windows`);
3. the cells it touched are written to Redis (:mod:`.sink`), retried until Redis answers, *before* the agent takes
   the next message, so faust commits the offset only after the sink holds the effect (at least once).

Every ``publish_interval`` the leader publishes the windows that changed to the derived topic (:mod:`.publisher`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import faust
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from redis.exceptions import RedisError

from eventledger_events import TRANSFERS_TOPIC, envelope_from_kafka
from eventledger_events.topics import HEADER_RECORDED_AT
from eventledger_infra.settings import Settings
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC, dead_letter_headers
from eventledger_projections.runtime.port import LogMessage
from eventledger_projections.streaming import metrics
from eventledger_projections.streaming.publisher import DERIVED_TOPIC, WindowPublisher, producer_settings
from eventledger_projections.streaming.settings import StreamingSettings
from eventledger_projections.streaming.sink import CellWrite, RedisWindowSink
from eventledger_projections.streaming.transport import IdempotentTransport
from eventledger_projections.streaming.windows import KEEP_SECONDS, WINDOWS, Posted, WindowSpec, cell_key, fold
from eventledger_projections.streaming.windows import posted_transfer as posting_of

log = logging.getLogger(__name__)

PROJECTION_NAME = "stream-windows"
"""How the job names itself in the dead-letter headers (``dlq-projection``)."""

RawHeaders = Iterable[tuple[str, bytes | None]]


def source_partitions(bootstrap: str, topic: str, timeout: float = 10.0) -> int:
    """How many partitions the source topic has: the tables' changelogs must have as many."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise LookupError(f"topic {topic} does not exist yet")
    return len(metadata.partitions)


def event_time(event: Any) -> float:
    """The event's ``recorded-at`` header as epoch seconds: the windows' clock (faust's ``relative_to``)."""
    return datetime.fromisoformat(_header(event.message.headers, HEADER_RECORDED_AT)).timestamp()


def _pairs(headers: Mapping[str, bytes] | RawHeaders | None) -> list[tuple[str, bytes | None]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _header(headers: Any, name: str) -> str:
    for key, value in _pairs(headers):
        if key == name and value is not None:
            return value.decode()
    raise KeyError(name)


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
        self.tables = {spec: self._table(spec, partitions) for spec in WINDOWS}
        self.app.agent(self.source, name="transfer-windows")(self._consume)
        self.app.timer(settings.publish_interval, on_leader=True)(self._publish)
        self.app.on_before_shutdown.connect(self._close)
        self._redis: aioredis.Redis | None = None
        self._sink: RedisWindowSink | None = None
        self._producer: AIOKafkaProducer | None = None

    def _table(self, spec: WindowSpec, partitions: int) -> Any:
        table = self.app.Table(
            f"transfer-windows-{spec.name}",
            default=dict,
            partitions=partitions,
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
            help=f"posted transfers per currency and source partition, {spec.name} windows",
        )
        if spec.size == spec.step:
            windowed: Any = table.tumbling(spec.size, expires=KEEP_SECONDS)
        else:
            windowed = table.hopping(spec.size, spec.step, expires=KEEP_SECONDS)
        return windowed.relative_to(event_time)

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
        if self._producer is not None:
            await self._producer.stop()
        if self._redis is not None:
            await self._redis.aclose()

    # ------------------------------------------------------------------ the agent
    async def _consume(self, stream: Any) -> None:
        async for event in stream.events():
            await self.handle(event)

    async def handle(self, event: Any) -> None:
        message = event.message
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
        writes = self._fold(posted, message.partition)
        await self._write(writes)
        metrics.EVENTS.labels("counted").inc()

    def _fold(self, posted: Posted, partition: int) -> list[CellWrite]:
        """Fold the posting into every table; answer the cells it touched, as the tables now hold them."""
        key = cell_key(posted.currency, partition)
        timestamp = posted.recorded_at.timestamp()
        writes: list[CellWrite] = []
        for spec, table in self.tables.items():
            table[key].apply(fold, posted.contribution())
            for window_range in table.table.window.ranges(timestamp):
                start = round(window_range[0])
                cell = table.table[(key, window_range)]
                writes.append(CellWrite(spec.name, start, start + spec.size, posted.currency, partition, dict(cell)))
        return writes

    async def _write(self, writes: list[CellWrite]) -> None:
        """Until Redis holds the cells: the message is not done before (never skipped)."""
        pause = 0.05
        while True:
            try:
                changed = await (await self.sink()).write(writes)
                metrics.CELLS.inc(changed)
                return
            except (RedisError, OSError) as error:
                metrics.RETRIES.labels("redis").inc()
                log.warning("Redis unavailable, retrying the window write: %s", error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

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
