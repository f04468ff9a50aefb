"""The stream job reads each source partition in offset order, whatever the consumer hands it: on the real Redis,
messages are fed to the job's handler the way faust can deliver them after a rebalance or a restart (past a gap,
below what is counted, from a group offset ahead of the counts). The consumer's positions are the seam: the job's
``rewind`` and ``earliest`` are recorded here instead of moving a real consumer (the SIGKILL tests in
test_transfer_windows.py run the whole worker)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis
from tests.integration.projections_redis.redis_rig import new_base
from tests.support.servers import Endpoints

from eventledger_events import (
    AccountOpened,
    DomainEvent,
    EventEnvelope,
    EventMetadata,
    TransferKind,
    TransferPosted,
    account_stream_id,
    transfer_stream_id,
)
from eventledger_events.kafka_message import to_kafka_record
from eventledger_infra.settings import Settings
from eventledger_projections.streaming.app import TransferWindowsJob
from eventledger_projections.streaming.settings import StreamingSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the async fixtures run in (pyproject)

TOPIC = "guard.eventledger.transfers.v1"
NOW = datetime.now(UTC)


class RecordingJob(TransferWindowsJob):
    """The job, with the consumer's positions recorded: ``rewinds`` asked for, and a settable first offset."""

    def __init__(self, settings: StreamingSettings, infra: Settings, first_offset: int = 0) -> None:
        super().__init__(settings, infra, partitions=3)
        self.rewinds: list[tuple[int, int]] = []
        self.first_offset = first_offset

    async def rewind(self, tp: Any, offset: int) -> None:
        self.rewinds.append((tp.partition, offset))

    async def earliest(self, tp: Any) -> int:
        return self.first_offset


@dataclass
class Log:
    """Messages of one source partition, as faust hands them to the agent (one consumer generation)."""

    partition: int = 0
    generation: int = 1
    messages: list[Any] = field(default_factory=list)

    def append(self, payload: DomainEvent, stream_id: str) -> None:
        position = len(self.messages) + 1
        envelope = EventEnvelope.new(
            payload,
            event_id=uuid.uuid4(),
            stream_id=stream_id,
            stream_version=1,
            occurred_at=NOW,
            metadata=EventMetadata(actor="guard", correlation_id=uuid.uuid4()),
        ).recorded(position=position, recorded_at=NOW)
        record = to_kafka_record(envelope)
        self.messages.append(
            SimpleNamespace(
                topic=TOPIC,
                partition=self.partition,
                offset=len(self.messages),
                key=record.key,
                value=record.value,
                headers=list(record.headers),
                tp=SimpleNamespace(topic=TOPIC, partition=self.partition),
                generation_id=self.generation,
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

    def in_generation(self, generation: int) -> Iterator[Any]:
        return (replace_generation(m, generation) for m in self.messages)


def replace_generation(message: Any, generation: int) -> Any:
    return SimpleNamespace(**{**vars(message), "generation_id": generation})


@pytest.fixture
async def rig(endpoints: Endpoints) -> AsyncIterator[tuple[StreamingSettings, Settings, aioredis.Redis]]:
    base = new_base()
    settings = StreamingSettings(app_id=f"guard-{base}", topic_namespace="guard.", redis_prefix=base)
    client = aioredis.Redis.from_url(endpoints.redis_url, decode_responses=True)
    yield settings, Settings.from_env(), client
    keys = [key async for key in client.scan_iter(match=f"{base}:*", count=1000)]
    if keys:
        await client.unlink(*keys)
    await client.aclose()


async def transfers(client: aioredis.Redis, settings: StreamingSettings) -> int:
    """Transfers counted in the tumbling minute of NOW (EUR)."""
    minute = int(NOW.timestamp()) // 60 * 60
    value = await client.hget(f"{settings.redis_prefix}:stream:w:tumbling-1m:{minute}:EUR", "transfers")
    return int(value or 0)


async def feed(job: TransferWindowsJob, *messages: Any) -> None:
    for message in messages:
        await job.handle(message)


async def test_a_message_past_a_gap_is_not_counted_the_job_rewinds_and_counts_in_order(rig: Any) -> None:
    settings, infra, client = rig
    log = Log()
    for amount in (100, 200, 300, 400, 500):
        log.post(amount)
    job = RecordingJob(settings, infra)
    try:
        await feed(job, log[0], log[3], log[4])  # faust skipped offsets 1 and 2
        assert job.rewinds == [(0, 1)]
        assert await transfers(client, settings) == 1, "nothing past the gap was counted"
        await feed(job, log[1], log[2], log[3], log[4])  # what the rewind brings back
        assert await transfers(client, settings) == 5
        assert job.rewinds == [(0, 1)]
    finally:
        await job._close()


async def test_a_restarted_job_resumes_from_the_counts_in_redis_not_from_the_group_offset(rig: Any) -> None:
    settings, infra, client = rig
    log = Log()
    for amount in (100, 200, 300, 400, 500):
        log.post(amount)
    first = RecordingJob(settings, infra)
    try:
        await feed(first, log[0], log[1], log[2])
    finally:
        await first._close()
    restarted = RecordingJob(settings, infra)
    try:
        await feed(restarted, log[4])  # the group had committed past offset 3, which was never counted
        assert restarted.rewinds == [(0, 3)]
        await feed(restarted, log[1], log[3], log[4])  # offset 1 is a redelivery of a counted posting
        assert await transfers(client, settings) == 5
    finally:
        await restarted._close()


async def test_a_new_consumer_generation_resumes_from_redis_too(rig: Any) -> None:
    settings, infra, client = rig
    log = Log()
    for amount in (100, 200, 300):
        log.post(amount)
    job = RecordingJob(settings, infra)
    try:
        await feed(job, log[0], log[1])
        generation_2 = list(log.in_generation(2))
        await feed(job, generation_2[0], generation_2[1], generation_2[2])  # a rebalance handed the partition back
        assert job.rewinds == []
        assert await transfers(client, settings) == 3
    finally:
        await job._close()


async def test_with_nothing_counted_a_partition_starts_from_its_first_offset(rig: Any) -> None:
    settings, infra, client = rig
    log = Log()
    for amount in (100, 200, 300):
        log.post(amount)
    job = RecordingJob(settings, infra)
    try:
        await feed(job, log[2])  # Redis lost its counts while the group kept its offset
        assert job.rewinds == [(0, 0)]
        await feed(job, log[0], log[1], log[2])
        assert await transfers(client, settings) == 3
    finally:
        await job._close()


async def test_offsets_deleted_by_retention_are_not_waited_for(rig: Any) -> None:
    settings, infra, client = rig
    log = Log()
    for amount in (100, 200, 300, 400):
        log.post(amount)
    job = RecordingJob(settings, infra)
    try:
        await feed(job, log[0])
        job.first_offset = 3  # offsets 1 and 2 were deleted before they were read
        await feed(job, log[3])
        assert job.rewinds == [], "a rewind to a deleted offset would never end"
        assert await transfers(client, settings) == 2
    finally:
        await job._close()


async def test_progress_through_messages_that_count_nothing_is_saved_by_the_timer(rig: Any) -> None:
    settings, infra, client = rig
    log = Log()
    log.post(100)
    for _ in range(3):
        log.open_account()
    job = RecordingJob(settings, infra)
    try:
        await feed(job, *log.messages)
        sink = await job.sink()
        assert await sink.progress(0) == 0, "the posting saved its own offset"
        await job._save_progress()
        assert await sink.progress(0) == 3
    finally:
        await job._close()
    restarted = RecordingJob(settings, infra)
    try:
        log.post(50)
        await feed(restarted, log[4])
        assert restarted.rewinds == []
        assert await transfers(client, settings) == 2
    finally:
        await restarted._close()
