"""One contract suite for every InstanceRegistry backend: in memory and PostgreSQL (the runtime kit's port)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.support.eventstore import isolated_schema

from eventledger_runtime.instances import (
    PAUSED,
    RUNNING,
    STALE,
    STALE_AFTER_SECONDS,
    STALLED,
    Heartbeat,
    InMemoryInstanceRegistry,
    InstanceRegistry,
    PartitionProgress,
    PostgresInstanceRegistry,
    Registration,
)

STALE_AFTER = 0.4
FORGOTTEN_AFTER = 1.2

Registry = Callable[..., InstanceRegistry]
"""``make(stale_after=, forgotten_after=)``: a registry of the backend under test, on one shared store."""


@pytest.fixture(params=["memory", "postgres"])
def make(request: pytest.FixtureRequest) -> Iterator[Registry]:
    made: list[InstanceRegistry] = []
    if request.param == "memory":
        shared: dict[str, InMemoryInstanceRegistry] = {}

        def memory(stale_after: float = STALE_AFTER_SECONDS, forgotten_after: float = 600) -> InstanceRegistry:
            # One store: a second "registry" is the same one (as a second process would see it).
            return shared.setdefault(
                "one", InMemoryInstanceRegistry(stale_after=stale_after, forgotten_after=forgotten_after)
            )

        yield memory
        return
    with isolated_schema(request.getfixturevalue("endpoints").postgres_dsn, "registry") as dsn:

        def postgres(stale_after: float = STALE_AFTER_SECONDS, forgotten_after: float = 600) -> InstanceRegistry:
            registry = PostgresInstanceRegistry(dsn, stale_after=stale_after, forgotten_after=forgotten_after)
            made.append(registry)
            return registry

        try:
            yield postgres
        finally:
            for registry in made:
                registry.close()


def _registration(instance_id: str, projection: str = "postgres", *, port: int = 18101, ago: float = 0) -> Registration:
    started = datetime.now(UTC) - timedelta(seconds=ago)
    return Registration(instance_id, projection, "127.0.0.1", port, 4242, started)


def test_a_registry_without_instances_lists_none(make: Registry) -> None:
    registry = make()
    assert registry.instances() == []
    assert registry.instances("postgres") == []
    registry.deregister("nobody")  # unknown: nothing happens


def test_a_beat_registers_the_instance_with_all_it_said(make: Registry) -> None:
    registry = make()
    registration = _registration("postgres-a1", port=40123)
    heartbeat = Heartbeat(
        state=RUNNING,
        position=1200,
        lag_events=3,
        lag_seconds=0.25,
        partitions=(
            PartitionProgress("eventledger.accounts.v1", 0, 17, 3),
            PartitionProgress("eventledger.transfers.v1", 5, None, None),
        ),
    )
    registry.beat(registration, heartbeat)
    (record,) = registry.instances("postgres")
    assert record.registration.instance_id == "postgres-a1"
    assert record.registration.address == "127.0.0.1:40123"
    assert (record.registration.pid, record.registration.projection) == (4242, "postgres")
    assert abs((record.registration.started_at - registration.started_at).total_seconds()) < 0.001
    assert record.heartbeat == heartbeat
    assert record.live
    assert record.state == RUNNING
    assert 0 <= record.heartbeat_age < STALE_AFTER + 1


def test_beats_of_one_instance_replace_each_other_and_never_touch_others(make: Registry) -> None:
    registry = make()
    a, b = _registration("postgres-a", ago=2), _registration("postgres-b", ago=1)
    registry.beat(a, Heartbeat(position=1))
    registry.beat(b, Heartbeat(position=2))
    registry.beat(a, Heartbeat(state=PAUSED, position=5))
    records = registry.instances("postgres")
    assert [(r.registration.instance_id, r.heartbeat.state, r.heartbeat.position) for r in records] == [
        ("postgres-a", PAUSED, 5),
        ("postgres-b", RUNNING, 2),
    ], "one row per instance, ordered by start time"
    stalled = Heartbeat(state=STALLED, reason="behind and not moving for 30 s")
    registry.beat(b, stalled)
    assert registry.instances("postgres")[1].heartbeat == stalled


def test_instances_are_listed_by_projection(make: Registry) -> None:
    registry = make()
    registry.beat(_registration("redis-1", "redis"), Heartbeat())
    registry.beat(_registration("postgres-1", "postgres"), Heartbeat())
    registry.beat(_registration("elasticsearch-1", "elasticsearch"), Heartbeat())
    assert [r.registration.instance_id for r in registry.instances("redis")] == ["redis-1"]
    assert [r.registration.projection for r in registry.instances()] == ["elasticsearch", "postgres", "redis"]
    assert registry.instances("windows") == []


def test_deregister_removes_the_instance_at_once_and_a_later_beat_registers_it_again(make: Registry) -> None:
    registry = make()
    registration = _registration("postgres-gone")
    registry.beat(registration, Heartbeat())
    registry.deregister("postgres-gone")
    assert registry.instances() == []
    registry.beat(registration, Heartbeat(position=9))
    assert [r.heartbeat.position for r in registry.instances()] == [9]


def test_a_silent_instance_turns_stale_then_is_forgotten_while_a_beating_one_stays_live(make: Registry) -> None:
    registry = make(stale_after=STALE_AFTER, forgotten_after=FORGOTTEN_AFTER)
    silent, beating = _registration("postgres-silent", ago=1), _registration("postgres-beating")
    registry.beat(silent, Heartbeat(state=PAUSED))
    registry.beat(beating, Heartbeat())
    time.sleep(STALE_AFTER + 0.2)
    registry.beat(beating, Heartbeat())
    gone, alive = registry.instances("postgres")
    assert (gone.registration.instance_id, gone.stale, gone.live, gone.state) == ("postgres-silent", True, False, STALE)
    assert gone.heartbeat.state == PAUSED, "the last thing it said is kept"
    assert gone.heartbeat_age > STALE_AFTER
    assert (alive.registration.instance_id, alive.stale, alive.state) == ("postgres-beating", False, RUNNING)
    time.sleep(FORGOTTEN_AFTER - STALE_AFTER)
    registry.beat(beating, Heartbeat())
    assert [r.registration.instance_id for r in registry.instances()] == ["postgres-beating"]


def test_a_second_client_of_the_same_store_sees_the_same_instances(make: Registry) -> None:
    writer, reader = make(), make()
    writer.beat(_registration("postgres-w"), Heartbeat(position=3))
    assert [r.heartbeat.position for r in reader.instances("postgres")] == [3]
    reader.deregister("postgres-w")
    assert writer.instances() == []
