"""The stream job reads each source partition in offset order, whatever its consumer hands it, on the real Kafka and
Redis: messages are produced to a topic of the test's own, then fed to the job's handler the way faust can deliver
them after a rebalance or a restart (past a gap, below what is counted, from a group offset ahead of the counts).
The job reads every gap itself from Kafka. (The SIGKILL tests in test_transfer_windows.py run the whole worker.)"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis
from confluent_kafka import Producer
from confluent_kafka import TopicPartition as KafkaPartition
from confluent_kafka.admin import AdminClient
from tests.support.ledger import recorded
from tests.support.projection_rig import dead_letters
from tests.support.servers import Endpoints

from eventledger_events import (
    TRANSFERS_TOPIC,
    AccountOpened,
    DomainEvent,
    TransferKind,
    TransferPosted,
    account_stream_id,
    transfer_stream_id,
)
from eventledger_events.kafka_message import to_kafka_record
from eventledger_infra.settings import Settings
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_projections.streaming.app import TransferWindowsJob
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.settings import Namespace, StreamingSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the async fixtures run in (pyproject)

NOW = datetime.now(UTC)
MINUTE = int(NOW.timestamp()) // 60 * 60


@dataclass
class Log:
    """Partition 0 of the test's transfers topic: what is produced, and the messages as faust would hand them over
    (one consumer generation)."""

    bootstrap: str
    topic: str
    messages: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "enable.idempotence": True})

    def append(self, payload: DomainEvent, stream_id: str) -> None:
        envelope = recorded(payload, stream_id, 1, len(self.messages) + 1, at=NOW, actor="guard")
        record = to_kafka_record(envelope)
        delivered: list[Any] = []
        self._producer.produce(
            self.topic,
            key=record.key,
            value=record.value,
            headers=list(record.headers),
            partition=0,
            on_delivery=lambda error, message: delivered.append(error or message.offset()),
        )
        self._producer.flush(30)
        assert delivered == [len(self.messages)], delivered
        self.messages.append(
            SimpleNamespace(
                topic=self.topic,
                partition=0,
                offset=len(self.messages),
                key=record.key,
                value=record.value,
                headers=list(record.headers),
                generation_id=1,
            )
        )

    def post(self, amount: int) -> None:
        transfer = uuid.uuid4()
        legs = {"from_account_id": uuid.uuid4(), "to_account_id": uuid.uuid4(), "currency": "EUR"}
        posted = TransferPosted(transfer_id=transfer, kind=TransferKind.TRANSFER, amount=amount, **legs)
        self.append(posted, transfer_stream_id(transfer))

    def open_account(self) -> None:
        account = uuid.uuid4()
        self.append(AccountOpened(account_id=account, holder_name="Ada", currency="EUR"), account_stream_id(account))

    def __getitem__(self, offset: int) -> Any:
        return self.messages[offset]


def in_generation(message: Any, generation: int) -> Any:
    return SimpleNamespace(**{**vars(message), "generation_id": generation})


@dataclass
class Rig:
    settings: StreamingSettings
    infra: Settings
    client: aioredis.Redis
    log: Log

    @contextlib.asynccontextmanager
    async def job(self) -> AsyncIterator[TransferWindowsJob]:
        """A job on the test's topics, closed when the block ends."""
        job = TransferWindowsJob(self.settings, self.infra, partitions=1)
        try:
            yield job
        finally:
            await job._close()

    async def transfers(self) -> int:
        """Transfers counted in the tumbling minute of NOW (EUR)."""
        value = await self.client.hget(
            f"{self.settings.names.redis_base}:stream:w:tumbling-1m:{MINUTE}:EUR", "transfers"
        )
        return int(value or 0)


@pytest.fixture
async def rig(endpoints: Endpoints) -> AsyncIterator[Rig]:
    names = Namespace(f"guard-{uuid.uuid4().hex[:8]}")
    base, namespace = names.redis_base, names.topic_prefix
    topics = [namespace + TRANSFERS_TOPIC, namespace + DEAD_LETTER_TOPIC]
    ensure_topics(endpoints.kafka_bootstrap, topics, 1)
    settings = StreamingSettings(namespace=names.value)
    client = aioredis.Redis.from_url(endpoints.redis_url, decode_responses=True)
    yield Rig(settings, Settings.from_env(), client, Log(endpoints.kafka_bootstrap, topics[0]))
    keys = [key async for key in client.scan_iter(match=f"{base}:*", count=1000)]
    if keys:
        await client.unlink(*keys)
    await client.aclose()
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    for future in admin.delete_topics(topics).values():
        future.result(timeout=30)


async def feed(job: TransferWindowsJob, *messages: Any) -> None:
    for message in messages:
        await job.handle(message)


async def test_past_a_gap_the_job_reads_the_gap_from_kafka_first(rig: Rig) -> None:
    for amount in (100, 200, 300, 400, 500):
        rig.log.post(amount)
    async with rig.job() as job:
        await feed(job, rig.log[0], rig.log[3])  # the consumer skipped offsets 1 and 2
        assert await rig.transfers() == 4
        await feed(job, rig.log[1], rig.log[4])  # offset 1 again: already counted
        assert await rig.transfers() == 5


async def test_a_restarted_job_resumes_from_the_counts_in_redis_not_from_the_group_offset(rig: Rig) -> None:
    for amount in (100, 200, 300, 400, 500):
        rig.log.post(amount)
    async with rig.job() as first:
        await feed(first, rig.log[0], rig.log[1], rig.log[2])
    async with rig.job() as restarted:
        await feed(restarted, rig.log[4])  # the group had committed past offset 3, which was never counted
        assert await rig.transfers() == 5
        await feed(restarted, rig.log[1], rig.log[3])  # redeliveries of counted postings
        assert await rig.transfers() == 5


async def test_a_new_consumer_generation_resumes_from_redis_too(rig: Rig) -> None:
    for amount in (100, 200, 300):
        rig.log.post(amount)
    async with rig.job() as job:
        await feed(job, rig.log[0], rig.log[1])
        again = [in_generation(m, 2) for m in rig.log.messages]  # a rebalance handed the partition back
        await feed(job, *again)
        assert await rig.transfers() == 3


async def test_with_nothing_counted_a_partition_is_read_from_its_beginning(rig: Rig) -> None:
    for amount in (100, 200, 300):
        rig.log.post(amount)
    async with rig.job() as job:
        await feed(job, rig.log[2])  # Redis lost its counts while the group kept its offset
        assert await rig.transfers() == 3


async def test_offsets_deleted_by_retention_are_passed_not_waited_for(rig: Rig, endpoints: Endpoints) -> None:
    for amount in (100, 200, 300, 400, 500):
        rig.log.post(amount)
    async with rig.job() as job:
        await feed(job, rig.log[0])
        admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
        for future in admin.delete_records([KafkaPartition(rig.log.topic, 0, 3)]).values():
            future.result(timeout=30)  # offsets 1 and 2 are gone before they were read
        await feed(job, rig.log[4])
        assert await rig.transfers() == 3, "offset 0, then 3 from the gap, then 4"


async def test_progress_through_messages_that_count_nothing_is_saved_by_the_timer(rig: Rig) -> None:
    rig.log.post(100)
    for _ in range(3):
        rig.log.open_account()
    async with rig.job() as job:
        await feed(job, *rig.log.messages)
        sink = await job.sink()
        assert await sink.progress(0) == 0, "the posting saved its own offset"
        await job._save_progress()
        assert await sink.progress(0) == 3
    rig.log.post(50)
    async with rig.job() as restarted:
        await feed(restarted, rig.log[4])
        assert await rig.transfers() == 2


async def test_a_posting_redis_refuses_is_parked_and_the_partition_goes_on(rig: Rig, endpoints: Endpoints) -> None:
    rig.log.post(5_000)
    rig.log.post(7)
    key = f"{rig.settings.names.redis_base}:stream:w:hopping-5m-1m:{MINUTE}:EUR"
    await rig.client.hset(key, "volume", str(9 * 10**18 - 1_000))  # the next 5,000 would overflow this window
    async with rig.job() as job:
        await feed(job, rig.log[0], rig.log[1])
    [parked] = dead_letters(endpoints.kafka_bootstrap, rig.settings.names.topic_prefix, expected=1)
    assert parked["headers"]["dlq-projection"] == "stream-windows"
    assert "ELOVERFLOW" in parked["headers"]["dlq-reason"]
    assert await rig.transfers() == 1, "the posting after it was counted"
