"""The Redis projection's side of the runner's contract, on the real Redis, calling the port directly: idempotent
batches, all-or-nothing refusal of a batch holding a poison event, offsets and marks in the same script call,
position claims, and what happens when the live version moves under a projector."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from tests.support.ledger import credit_to_a_stranger
from tests.support.redis_rig import delete_base, new_base, snapshot
from tests.support.servers import Endpoints

from eventledger_command.application.commands import Deposit, FreezeAccount, MakeTransfer, OpenAccount
from eventledger_command.bootstrap import build
from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_events import EventEnvelope, EventMetadata
from eventledger_projections.redis import RedisProjection, RedisReadModel
from eventledger_projections.redis.connection import Scripts, connect, run
from eventledger_projections.runtime.port import ConsumedEvent, LogMessage, OffsetsMoved, ParkedMessage
from eventledger_runtime.settings import CommandSettings

TOPIC = "ns.eventledger.accounts.v1"
OTHER_TOPIC = "ns.eventledger.transfers.v1"


@pytest.fixture
def client(endpoints: Endpoints) -> Iterator[redis.Redis]:
    client = connect(endpoints.redis_url)
    yield client
    client.close()


@pytest.fixture
def base(client: redis.Redis) -> Iterator[str]:
    base = new_base()
    yield base
    delete_base(client, base)


def ledger_events() -> list[EventEnvelope]:
    """A small real history from the command side (in memory): opens, deposits, a transfer, a hold, a freeze."""
    container = build(CommandSettings(store="memory"))
    metadata = EventMetadata(actor="t", correlation_id=uuid.uuid4())
    accounts = [uuid.uuid4() for _ in range(3)]
    for account_id in accounts:
        container.bus.execute(OpenAccount(account_id, "Ada", "EUR", 100), metadata)
        container.bus.execute(Deposit(uuid.uuid4(), account_id, 1000), metadata)
    container.bus.execute(MakeTransfer(uuid.uuid4(), accounts[0], accounts[1], 300), metadata)
    pending = MakeTransfer(uuid.uuid4(), accounts[1], accounts[2], 200, pending=True, timeout_seconds=60)
    container.bus.execute(pending, metadata)
    container.bus.execute(FreezeAccount(accounts[2]), metadata)
    return [to_envelope(r) for r in container.store.read_all(limit=1000)]


def consumed(
    events: list[EventEnvelope], topic: str = TOPIC, partition: int = 0, first: int = 0
) -> list[ConsumedEvent]:
    return [ConsumedEvent(e, LogMessage(topic, 0, first + i, None, None)) for i, e in enumerate(events)]


def test_a_batch_applied_twice_or_replayed_in_pieces_changes_nothing(client: redis.Redis, base: str) -> None:
    events = ledger_events()
    projection = RedisProjection(client, base=base)
    projection.apply(consumed(events))
    once = snapshot(client, base)
    projection.apply(consumed(events))
    projection.apply(consumed(events[:5]))  # an older piece after the newer whole
    assert snapshot(client, base) == once
    overview = RedisReadModel(client, base=base).overview()
    assert overview.volume == {"EUR": 3300}
    assert overview.accounts_by_status == {"open": 2, "frozen": 1}
    assert overview.open_accounts == 3


def test_a_batch_holding_a_poison_event_is_refused_whole_before_any_write(client: redis.Redis, base: str) -> None:
    events = ledger_events()
    projection = RedisProjection(client, base=base)
    projection.apply(consumed(events[:4]))
    before = snapshot(client, base)
    batch = consumed([*events[4:8], credit_to_a_stranger(len(events) + 1), *events[8:]], first=4)
    with pytest.raises(redis.ResponseError, match=r"ELPOISON account .* was never opened"):
        projection.apply(batch)
    assert snapshot(client, base) == before, "nothing of the refused batch was written, not even its offsets"
    assert not projection.is_transient(redis.ResponseError("ELPOISON x"))


def test_offsets_and_marks_move_with_the_rows_and_are_authoritative(client: redis.Redis, base: str) -> None:
    events = ledger_events()
    projection = RedisProjection(client, base=base)
    assert projection.load_offsets() == {}
    projection.mark_caught_up(0, {(TOPIC, 0): 0, (OTHER_TOPIC, 0): 0})
    projection.apply(consumed(events[:6], first=10))
    projection.skip([ParkedMessage(OTHER_TOPIC, 0, 3, None)])
    fresh = RedisProjection(client, base=base)  # a restarted projector
    assert fresh.load_offsets() == {(TOPIC, 0): 16, (OTHER_TOPIC, 0): 4}
    # The accounts partition applied up to events[5]; the transfers partition is behind (hw 9 > next offset 4).
    assert fresh.reflected_position() == 0
    fresh.mark_caught_up(3, {(TOPIC, 0): 16, (OTHER_TOPIC, 0): 9})
    assert fresh.reflected_position() == 0, "a partition behind keeps the claim down"
    fresh.mark_caught_up(5, {(TOPIC, 0): 16, (OTHER_TOPIC, 0): 4})
    assert fresh.reflected_position() == 5
    fresh.mark_caught_up(4, {(TOPIC, 0): 16, (OTHER_TOPIC, 0): 4})
    assert fresh.reflected_position() == 5, "a mark never goes down"
    fresh.skip([ParkedMessage(OTHER_TOPIC, 0, 4, 7)])
    fresh.apply(consumed(events[6:8], first=16))
    assert fresh.reflected_position() == min(7, events[7].position or 0)


def test_a_partition_never_declared_is_not_claimed_by_applying_another(client: redis.Redis, base: str) -> None:
    events = ledger_events()
    projection = RedisProjection(client, base=base)
    projection.mark_caught_up(0, {(TOPIC, 0): 0})
    projection.apply(consumed(events))
    assert projection.reflected_position() == events[-1].position
    projection.mark_caught_up(0, {(TOPIC, 0): len(events), (OTHER_TOPIC, 1): 3})
    assert projection.reflected_position() == 0


def test_a_switched_pointer_stops_writes_until_the_offsets_are_loaded_again(client: redis.Redis, base: str) -> None:
    events = ledger_events()
    projection = RedisProjection(client, base=base)
    projection.apply(consumed(events[:5]))
    client.set(projection.keys.live, "99")  # as a rebuild's switch would
    for _ in range(2):
        with pytest.raises(OffsetsMoved):
            projection.apply(consumed(events[5:], first=5))
    with pytest.raises(OffsetsMoved):
        projection.mark_caught_up(0, {(TOPIC, 0): 5})
    assert client.exists(projection.keys.meta(99)) == 0, "nothing was written into the other version"
    assert projection.load_offsets() == {}
    assert projection.version == 99


def test_a_redis_that_lost_its_data_is_refilled_from_the_beginning(client: redis.Redis, base: str) -> None:
    events = ledger_events()
    projection = RedisProjection(client, base=base)
    projection.apply(consumed(events[:5]))
    delete_base(client, base)
    with pytest.raises(OffsetsMoved):
        projection.apply(consumed(events[5:], first=5))
    assert projection.load_offsets() == {}, "an empty live version: read every partition from its beginning"
    projection.apply(consumed(events))
    assert RedisReadModel(client, base=base).overview().volume == {"EUR": 3300}


def test_live_writes_wait_during_a_hand_over_and_resume_at_its_deadline(client: redis.Redis, base: str) -> None:
    events = ledger_events()
    projection = RedisProjection(client, base=base)
    projection.apply(consumed(events[:5]))
    scripts = Scripts.register(client)
    run(scripts.begin_handover, base, projection.version, "token", 300)
    with pytest.raises(redis.ResponseError, match="ELBUSY") as refused:
        projection.apply(consumed(events[5:], first=5))
    assert projection.is_transient(refused.value)
    time.sleep(0.35)
    projection.apply(consumed(events[5:], first=5))
    assert projection.load_offsets() == {(TOPIC, 0): len(events)}
