"""The Redis read model on real PostgreSQL, Kafka and Redis, driven by the projection runtime: it equals a replay of
the event store, redelivery changes nothing, poison messages are parked while the projection goes on, and the
reflected position never runs ahead of what is applied."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, TopicPartition
from tests.support.processes import wait_for
from tests.support.projection_rig import Workload
from tests.support.redis_rig import (
    RedisRig,
    assert_redis_matches,
    snapshot,
)

from eventledger_events import ALL_TOPICS
from eventledger_projections.redis.keys import parse_partition_field


def test_after_a_random_workload_the_read_model_equals_a_replay_of_the_event_store(rig: RedisRig) -> None:
    workload = Workload(rig.store, seed=21)
    rig.play(workload, 400, rig.wait_until_reflected)
    expected = assert_redis_matches(rig.store, rig.client, rig.base)
    assert workload.accepted > 250
    assert set(expected.volume) == {"EUR", "USD"}
    kinds = {event.event_type for event in rig.store.read_all(limit=10_000_000, wait=0)}
    assert {"account.frozen", "account.hold_placed", "account.hold_released", "transfer.pending_posted"} <= kinds
    assert rig.projector.projection.reflected_position() == rig.store.head_position()


def test_delivering_every_event_twice_changes_nothing(rig: RedisRig) -> None:
    workload = Workload(rig.store, seed=22)
    rig.play(workload, 200, rig.wait_until_reflected)
    assert_redis_matches(rig.store, rig.client, rig.base)
    rows_before = _rows(snapshot(rig.client, rig.base))
    published = _high_watermarks(rig)
    # A second relay with its own checkpoint publishes the whole log again into the same topics.
    with rig.relay(checkpoint="again") as again:
        head = rig.store.head_position()
        wait_for(lambda: again.position >= head, 60, "the second relay to publish everything again")
    doubled = _high_watermarks(rig)
    assert sum(doubled.values()) == 2 * sum(published.values())
    wait_for(lambda: _stored_offsets(rig) == doubled, 60, "the projection to read every duplicate")
    assert _rows(snapshot(rig.client, rig.base)) == rows_before
    assert_redis_matches(rig.store, rig.client, rig.base)


def _rows(dump: dict[str, object]) -> dict[str, object]:
    """Everything but the progress bookkeeping (offsets, marks, last positions, meta)."""
    progress = ("offsets", "marks", "last", "meta")
    return {key: value for key, value in dump.items() if key.rsplit(":", 1)[-1] not in progress}


def _stored_offsets(rig: RedisRig) -> dict[tuple[str, int], int]:
    version = rig.projector.projection.version
    assert version is not None
    raw = rig.client.hgetall(rig.projector.projection.keys.offsets(version))
    return {parse_partition_field(str(field)): int(offset) for field, offset in raw.items()}


def _high_watermarks(rig: RedisRig) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": rig.bootstrap, "group.id": f"hw-{uuid.uuid4()}"})
    try:
        found: dict[tuple[str, int], int] = {}
        for topic in [rig.namespace + name for name in ALL_TOPICS]:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in metadata.partitions:
                high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
                if high:
                    found[(topic, partition)] = high
        return found
    finally:
        consumer.close()


def test_poison_messages_are_parked_with_reason_and_the_projection_goes_on(rig: RedisRig) -> None:
    poison, _, unappliable = rig.poison_midway(23, rig.wait_until_reflected, "redis")
    assert "ELPOISON" in unappliable["headers"]["dlq-reason"]
    assert "never opened" in unappliable["headers"]["dlq-reason"]
    assert_redis_matches(rig.store, rig.client, rig.base)
    assert rig.client.exists(rig.projector.projection.keys.account(1, poison.stranger)) == 0


def test_the_reflected_position_is_never_ahead_of_what_is_applied(rig: RedisRig) -> None:
    rig.check_claims_while_moving(
        Workload(rig.store, seed=24),
        rig.projector.projection.reflected_position,
        rig.wait_until_reflected,
        lambda claimed: _assert_everything_up_to_is_applied(rig, claimed),
    )


def _assert_everything_up_to_is_applied(rig: RedisRig, claimed: int) -> None:
    """Every event at or below ``claimed`` is reflected by its row's stored version (read after the claim)."""
    events = rig.store.read_all(limit=10_000_000, wait=0)
    version = rig.projector.projection.version or 1
    keys = rig.projector.projection.keys
    late = []
    for event in events:
        if event.position > claimed:
            break
        category, _, entity = event.stream_id.partition("-")
        if category == "account":
            stored = rig.client.hget(keys.account(version, entity), "version")
        else:
            stored = rig.client.get(keys.transfer(version, entity))
        if int(stored or 0) < event.stream_version:
            late.append(event)
    assert not late, f"claimed {claimed} but {len(late)} events at or below it are not applied, first {late[0]}"
