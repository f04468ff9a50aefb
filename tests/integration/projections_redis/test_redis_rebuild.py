"""Rebuilding the Redis read model from the event store beside the live version while its projector runs, switching
the pointer without the reflected position going back, and cleaning up after itself (real PostgreSQL, Kafka,
Redis)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import redis
from tests.support.projection_rig import (
    Workload,
)
from tests.support.redis_rig import (
    RedisRig,
    assert_redis_matches,
    keys_under,
)

from eventledger_projections.rebuild.port import RebuildAlreadyRunning
from eventledger_projections.redis import RedisReadModel, RedisRebuild, RedisRebuildConfig
from eventledger_projections.redis.connection import Scripts, run
from eventledger_projections.redis.versions import live_version, versions


def test_a_rebuild_builds_beside_the_live_version_and_switches_without_going_back(rig: RedisRig) -> None:
    late = Workload(rig.store, seed=32)
    model = RedisReadModel(rig.client, base=rig.base)
    served_during_build: list[int | None] = []

    def between_replay_and_switch() -> None:
        served_during_build.append(model.live_version())
        late.run(30)  # the log moves on between the bulk replay and the switch

    rebuild = RedisRebuild(
        rig.client,
        rig.dsn,
        base=rig.base,
        config=RedisRebuildConfig(batch_size=40, handover_lag=10),
        before_switch=between_replay_and_switch,
    )
    report, samples = rig.rebuild_under_load(
        rebuild.run,
        workload=Workload(rig.store, seed=31),
        late=late,
        wait_until_reflected=rig.wait_until_reflected,
        reflected=model.reflected_position,
        switched=lambda: rig.projector.projection.version == 2,
    )

    assert served_during_build == [1], "the live version kept serving while the new one was built"
    assert report.version == 2
    assert report.previous == 1
    assert report.events >= 250
    assert report.skipped == 0
    assert report.dropped[0].startswith(f"{rig.base}:v1 (")
    assert not report.dropped[0].startswith(f"{rig.base}:v1 (0 keys")
    assert live_version(rig.client, rig.keys) == 2
    assert keys_under(rig.client, rig.keys.version_pattern(1)) == [], "the old version's keys are deleted"
    assert versions(rig.client, rig.keys) == {2: "live"}
    assert_redis_matches(rig.store, rig.client, rig.base)
    assert samples == sorted(samples), "the reflected position never went back across the switch"
    assert rig.client.hlen(rig.keys.offsets(2)) > 0, "the new version took over the live Kafka offsets"


def test_the_rebuild_command_shows_progress_and_replaces_the_previous_version(rig: RedisRig) -> None:
    runs = rig.rebuild_twice_from_the_cli("redis", Workload(rig.store, seed=33), rig.wait_until_reflected)
    assert f"rebuilt redis: {rig.base}:v2 from " in runs[0].stdout
    assert f"rebuilt redis: {rig.base}:v3 from " in runs[1].stdout, "a second rebuild replaces the first"
    assert f"dropped {rig.base}:v2 (" in runs[1].stdout
    assert versions(rig.client, rig.keys) == {3: "live"}
    assert_redis_matches(rig.store, rig.client, rig.base)


def test_a_failed_rebuild_leaves_the_live_version_alone_and_its_leftovers_are_cleaned_up(rig: RedisRig) -> None:
    workload = Workload(rig.store, seed=34)
    with rig.relay():
        workload.run(80)
        rig.wait_until_reflected()

        def fail() -> None:
            raise RuntimeError("the rebuild dies before the switch")

        with pytest.raises(RuntimeError, match="dies before the switch"):
            RedisRebuild(rig.client, rig.dsn, base=rig.base, before_switch=fail).run()
        assert versions(rig.client, rig.keys) == {1: "live"}, "the half-built version was deleted"
        # A rebuild killed outright leaves its version behind: the next rebuild deletes it first.
        scripts = Scripts.register(rig.client)
        abandoned = int(run(scripts.begin_build, rig.base, "now"))
        rig.client.set(rig.keys.transfer(abandoned, "x"), "1")
        assert abandoned == 3
        rig.client.set(rig.keys.rebuild_lock, "someone", px=5000)
        with pytest.raises(RebuildAlreadyRunning):
            RedisRebuild(rig.client, rig.dsn, base=rig.base).run()
        rig.client.delete(rig.keys.rebuild_lock)
        workload.run(20)  # the live projector kept going
        rig.wait_until_reflected()
        report = RedisRebuild(rig.client, rig.dsn, base=rig.base).run()
        assert report.version == 4
        assert versions(rig.client, rig.keys) == {4: "live"}
        assert keys_under(rig.client, rig.keys.version_pattern(abandoned)) == []
        workload.run(20)
        rig.wait_until_reflected()
    assert_redis_matches(rig.store, rig.client, rig.base)


def test_a_switch_whose_answer_was_lost_keeps_the_new_live_version(rig: RedisRig) -> None:
    workload = Workload(rig.store, seed=35)
    with rig.relay():
        workload.run(60)
        rig.wait_until_reflected()
        rebuild = RedisRebuild(rig.client, rig.dsn, base=rig.base)
        switch = rebuild._scripts.switch

        def switched_then_lost(*args: Any, **kwargs: Any) -> Any:
            switch(*args, **kwargs)
            raise redis.ConnectionError("the answer was lost")

        rebuild._scripts = dataclasses.replace(rebuild._scripts, switch=switched_then_lost)  # type: ignore[arg-type]
        with pytest.raises(redis.ConnectionError):
            rebuild.run()
        assert live_version(rig.client, rig.keys) == 2
        assert keys_under(rig.client, rig.keys.version_pattern(2)), "the live version was not deleted"
        workload.run(20)
        rig.wait_until_reflected()
    assert_redis_matches(rig.store, rig.client, rig.base)
