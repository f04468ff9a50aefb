"""The stream job's sinks on the real Redis and Kafka: a posting counts in a cell only when its position is above the
cell's mark (the script agrees with the pure fold), totals add up across source partitions, each partition's
progress only grows, and a window is forgotten by the dirty set only at the revision that was published."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from confluent_kafka.admin import AdminClient
from tests.support.redis_rig import new_base
from tests.support.servers import Endpoints
from tests.support.stream_rig import DerivedTopicReader

from eventledger_projections.streaming.publisher import WindowPublisher, producer_settings
from eventledger_projections.streaming.sink import RedisWindowSink
from eventledger_projections.streaming.windows import Posted, WindowCell, fold
from eventledger_runtime.kafka import ensure_topics

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


@dataclass(frozen=True)
class Derived:
    """A fresh derived topic, a started producer and a reader of that topic."""

    topic: str
    producer: AIOKafkaProducer
    reader: DerivedTopicReader


@pytest.fixture
async def derived(endpoints: Endpoints) -> AsyncIterator[Derived]:
    topic = f"sink-{uuid.uuid4().hex[:8]}.eventledger.stats.transfer-windows.v1"
    ensure_topics(endpoints.kafka_bootstrap, [topic], 1)
    producer = AIOKafkaProducer(**producer_settings(endpoints.kafka_bootstrap, "sink-test"))
    await producer.start()
    reader = DerivedTopicReader(endpoints.kafka_bootstrap, topic)
    try:
        yield Derived(topic, producer, reader)
    finally:
        await producer.stop()
        reader.close()
        _delete_topic(endpoints.kafka_bootstrap, topic)


def _delete_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until its futures are done
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=30)


async def count(
    sink: RedisWindowSink,
    partition: int,
    offset: int,
    amount: int,
    position: int,
    currency: str = "EUR",
    start: int = START,
) -> int:
    """Count a posting of ``amount`` at ``position``, read at ``offset`` of ``partition``, in one minute window."""
    posted = Posted(currency, amount, position, datetime.fromtimestamp(start + 1, UTC))
    return await sink.count(partition, offset, posted, [WindowCell("tumbling-1m", start, start + 60, currency)])


async def totals(sink: RedisWindowSink, member: str = f"tumbling-1m:{START}:EUR") -> tuple[int, int, int]:
    [figures] = await sink.figures([member])
    assert figures is not None
    return figures.transfers, figures.volume, figures.revision


async def test_postings_add_up_across_partitions_and_each_position_counts_once(sink: RedisWindowSink) -> None:
    assert await count(sink, 0, offset=0, amount=100, position=5) == 1
    assert await count(sink, 0, offset=1, amount=200, position=10) == 1
    assert await count(sink, 1, offset=0, amount=50, position=7) == 1
    assert await totals(sink) == (3, 350, 3)
    assert await count(sink, 0, offset=1, amount=200, position=10) == 0, "the same posting again"
    assert await count(sink, 0, offset=0, amount=100, position=5) == 0, "an older posting (a replay behind the mark)"
    assert await totals(sink) == (3, 350, 3)
    assert await count(sink, 0, offset=2, amount=20, position=12) == 1
    assert await totals(sink) == (4, 370, 4)


async def test_the_script_keeps_each_partitions_cell_as_the_pure_fold_does(sink: RedisWindowSink) -> None:
    postings = [(100, 5), (30, 9), (100, 5), (7, 8), (40, 11), (40, 11)]  # replays and an older one mixed in
    expected: dict[str, int] = {}
    for offset, (amount, position) in enumerate(postings):
        await count(sink, 2, offset, amount, position)
        expected = fold(expected, {"amount": amount, "position": position})
    stored: list[Any] = await sink._client.hmget(f"{sink.prefix}w:tumbling-1m:{START}:EUR", ["n:2", "v:2", "m:2"])
    assert {name: int(value) for name, value in zip("nvm", stored, strict=True)} == expected
    assert expected == {"n": 3, "v": 170, "m": 11}


async def test_a_partitions_progress_only_grows(sink: RedisWindowSink) -> None:
    assert await sink.progress(0) is None
    await count(sink, 0, offset=41, amount=1, position=3)
    assert await sink.progress(0) == 41
    await count(sink, 0, offset=17, amount=1, position=2)  # a gap read handles an older offset again
    assert await sink.progress(0) == 41
    await sink.advance({0: 40, 3: 8})
    assert (await sink.progress(0), await sink.progress(3)) == (41, 8)
    await sink.advance({0: 55})
    assert await sink.progress(0) == 55


async def test_a_window_stays_dirty_until_its_latest_revision_is_acknowledged(sink: RedisWindowSink) -> None:
    member = f"tumbling-1m:{START}:EUR"
    await count(sink, 0, offset=0, amount=10, position=1)
    assert await sink.dirty(10) == [(member, 1)]
    await count(sink, 0, offset=1, amount=10, position=2)  # changed after it was read for publishing at revision 1
    assert await sink.acknowledge([(member, 1)]) == 0
    assert await sink.dirty(10) == [(member, 2)]
    assert await sink.acknowledge([(member, 2)]) == 1
    assert await sink.dirty(10) == []


async def test_the_publisher_sends_each_dirty_window_once_acknowledged(sink: RedisWindowSink, derived: Derived) -> None:
    await count(sink, 0, offset=0, amount=100, position=5)
    await count(sink, 0, offset=1, amount=200, position=10)
    await count(sink, 1, offset=0, amount=50, position=7)
    await count(sink, 0, offset=2, amount=9, position=11, currency="USD")
    publisher = WindowPublisher(derived.producer, sink, derived.topic)
    assert await publisher.publish_dirty() == 2
    assert await publisher.publish_dirty() == 0, "nothing changed since"
    derived.reader.poll(5.0)
    assert derived.reader.messages == 2
    assert derived.reader.windows() == {
        ("tumbling-1m", START, "EUR"): (3, 350),
        ("tumbling-1m", START, "USD"): (1, 9),
    }
    assert all(json.loads(json.dumps(v))["revision"] >= 1 for v in derived.reader.latest.values())


async def test_a_window_past_its_retention_is_dropped_not_published(sink: RedisWindowSink, derived: Derived) -> None:
    assert await count(sink, 0, offset=0, amount=5, position=3, start=START - 7200) == 1
    assert await sink.figures([f"tumbling-1m:{START - 7200}:EUR"]) == [None], "expired at once"
    assert await WindowPublisher(derived.producer, sink, derived.topic).publish_dirty() == 0
    derived.reader.poll(3.0)
    assert derived.reader.messages == 0
    assert await sink.dirty(10) == []
