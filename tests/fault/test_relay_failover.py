"""Three relay processes, one leader (ADR 0016): the leader is SIGKILLed twice under a continuous append load. Kafka
must hold every event, in order per key, and what was published twice must be only the overlap of a leader change
(at most one batch per change), never two publishers running side by side.

Runs on the shared broker in a topic namespace of its own, and a scratch database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.kafka_checker import check_at_least_once_in_order, consume_all
from tests.support.processes import wait_for
from tests.support.relay_cluster import RelayRig, check_one_publisher_at_a_time, relay_rig
from tests.support.relay_load import Load
from tests.support.servers import Endpoints

BATCH = 200


@pytest.fixture
def rig(endpoints: Endpoints, tmp_path: Path) -> Iterator[RelayRig]:
    with relay_rig(3, name="failover", log_dir=tmp_path, batch_size=BATCH) as rig:
        yield rig


@pytest.mark.timeout(300)
def test_three_relays_leader_killed_twice_under_load(rig: RelayRig) -> None:
    rig.cluster.start()
    # Each relay answers /status only once it has started; under a loaded CI machine a standby may come up
    # seconds after the leader, so wait for all three to answer rather than reading the roles once.
    wait_for(
        lambda: sorted(r or "" for r in rig.cluster.roles()) == ["leader", "standby", "standby"],
        60,
        f"one leader and two standbys:\n{rig.cluster.log_tails()}",
    )
    failovers: list[float] = []
    with Load(rig.store, max_seconds=120) as load:
        for _ in range(2):
            time.sleep(2.0)
            leader = rig.cluster.leader()
            assert leader is not None
            position, term = rig.checkpoint()
            assert position > 0, "the leader publishes under load"
            leader.process.kill()
            killed = time.monotonic()
            wait_for(
                lambda term=term, position=position: rig.checkpoint()[1] > term and rig.checkpoint()[0] > position,
                30,
                f"a standby to take over and publish:\n{rig.cluster.log_tails()}",
                interval=0.05,
            )
            failovers.append(time.monotonic() - killed)
        time.sleep(1.0)
    assert not load.errors, load.errors
    assert load.appended > 500
    head = rig.store.head_position()
    wait_for(lambda: rig.checkpoint()[0] >= head, 120, f"the relays to reach {head}:\n{rig.cluster.log_tails()}")
    assert [r for r in rig.cluster.roles() if r is not None] == ["leader"], "the last relay standing leads"

    recorded = rig.store.read_all(limit=1_000_000)
    delivered = consume_all(rig.settings.kafka_bootstrap, rig.topics, expected=len(recorded))
    report = check_at_least_once_in_order(recorded, delivered)
    changes = check_one_publisher_at_a_time(delivered, BATCH)
    assert changes["terms"] == 3, changes
    assert report["duplicates"] <= 2 * BATCH, report
    print(f"3 relays, leader SIGKILLed x2: {report}, {changes}, failover {[f'{s:.2f} s' for s in failovers]}")
