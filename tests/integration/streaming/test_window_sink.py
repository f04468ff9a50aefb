"""The stream job's sinks on the real Redis and Kafka: a cell is written only when its mark grows, totals add up
across source partitions, and a window is forgotten by the dirty set only at the revision that was published."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from confluent_kafka.admin import AdminClient
from tests.integration.projections_redis.redis_rig import new_base
from tests.integration.streaming.stream_rig import DerivedTopicReader
from tests.support.servers import Endpoints

from eventledger_projections.runtime.kafka import ensure_topics
from eventledger_projections.streaming.publisher import WindowPublisher, producer_settings
from eventledger_projections.streaming.sink import CellWrite, RedisWindowSink

START = int(time.time()) // 60 * 60
"""The current minute: a window that ended more than an hour ago expires at once (see the sink's keys)."""

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the async fixtures run in (pyproject)


@pytest.fixture
async def sink(endpoints: Endpoints) -> AsyncIterator[RedisWindowSink]:
    client = aioredis.Redis.from_url(endpoints.redis_url, decode_responses=True)
    base = new_base()
    yield RedisWindowSink(client, base=base)
    keys = [key async for key in client.scan_iter(match=f"{base}:*", count=1000)]
    if keys:
        await client.unlink(*keys)
    await client.aclose()


def _delete_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until its futures are done
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=30)


def cell(partition: int, n: int, v: int, m: int, currency: str = "EUR") -> CellWrite:
    return CellWrite("tumbling-1m", START, START + 60, currency, partition, {"n": n, "v": v, "m": m})


async def totals(sink: RedisWindowSink, member: str = f"tumbling-1m:{START}:EUR") -> tuple[int, int, int]:
    [figures] = await sink.figures([member])
    assert figures is not None
    return figures.transfers, figures.volume, figures.revision


async def test_cells_add_up_across_partitions_and_only_a_growing_mark_writes(sink: RedisWindowSink) -> None:
    assert await sink.write([cell(0, 2, 300, 10), cell(1, 1, 50, 7)]) == 2
    assert await totals(sink) == (3, 350, 2)
    assert await sink.write([cell(0, 2, 300, 10)]) == 0, "the same cell again"
    assert await sink.write([cell(0, 1, 100, 4)]) == 0, "an older cell (a replay behind the stored mark)"
    assert await totals(sink) == (3, 350, 2)
    assert await sink.write([cell(0, 3, 320, 12)]) == 1
    assert await totals(sink) == (4, 370, 3)


async def test_a_window_stays_dirty_until_its_latest_revision_is_acknowledged(sink: RedisWindowSink) -> None:
    member = f"tumbling-1m:{START}:EUR"
    await sink.write([cell(0, 1, 10, 1)])
    assert await sink.dirty(10) == [(member, 1)]
    await sink.write([cell(0, 2, 20, 2)])  # changed after it was read for publishing at revision 1
    assert await sink.acknowledge([(member, 1)]) == 0
    assert await sink.dirty(10) == [(member, 2)]
    assert await sink.acknowledge([(member, 2)]) == 1
    assert await sink.dirty(10) == []


async def test_the_publisher_sends_each_dirty_window_once_acknowledged(
    sink: RedisWindowSink, endpoints: Endpoints
) -> None:
    topic = f"sink-{uuid.uuid4().hex[:8]}.eventledger.stats.transfer-windows.v1"
    ensure_topics(endpoints.kafka_bootstrap, [topic], 1)
    producer = AIOKafkaProducer(**producer_settings(endpoints.kafka_bootstrap, "sink-test"))
    await producer.start()
    reader = DerivedTopicReader(endpoints.kafka_bootstrap, topic)
    try:
        await sink.write([cell(0, 2, 300, 10), cell(1, 1, 50, 7), cell(0, 1, 9, 11, currency="USD")])
        publisher = WindowPublisher(producer, sink, topic)
        assert await publisher.publish_dirty() == 2
        assert await publisher.publish_dirty() == 0, "nothing changed since"
        reader.poll(5.0)
    finally:
        await producer.stop()
        reader.close()
        _delete_topic(endpoints.kafka_bootstrap, topic)
    assert reader.messages == 2
    assert reader.windows() == {("tumbling-1m", START, "EUR"): (3, 350), ("tumbling-1m", START, "USD"): (1, 9)}
    assert all(json.loads(json.dumps(v))["revision"] >= 1 for v in reader.latest.values())


async def test_a_window_past_its_retention_is_dropped_not_published(
    sink: RedisWindowSink, endpoints: Endpoints
) -> None:
    old = CellWrite("tumbling-1m", START - 7200, START - 7140, "EUR", 0, {"n": 1, "v": 5, "m": 3})
    assert await sink.write([old]) == 1
    assert await sink.figures([f"tumbling-1m:{START - 7200}:EUR"]) == [None], "expired at once"
    topic = f"sink-{uuid.uuid4().hex[:8]}.eventledger.stats.transfer-windows.v1"
    ensure_topics(endpoints.kafka_bootstrap, [topic], 1)
    producer = AIOKafkaProducer(**producer_settings(endpoints.kafka_bootstrap, "sink-test"))
    await producer.start()
    reader = DerivedTopicReader(endpoints.kafka_bootstrap, topic)
    try:
        assert await WindowPublisher(producer, sink, topic).publish_dirty() == 0
        reader.poll(3.0)
    finally:
        await producer.stop()
        reader.close()
        _delete_topic(endpoints.kafka_bootstrap, topic)
    assert reader.messages == 0
    assert await sink.dirty(10) == []
