"""Three relay processes, one leader (ADR 0016): the leader is SIGKILLed twice under a continuous append load. Kafka
must hold every event, in order per key, and what was published twice must be only the overlap of a leader change
(at most one batch per change), never two publishers running side by side.

Runs on the shared broker in a topic namespace of its own, and a scratch database.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.support.kafka_checker import check_at_least_once_in_order, consume_all
from tests.support.processes import scratch_database, wait_for
from tests.support.projection_rig import delete_topics
from tests.support.relay_cluster import RelayCluster, check_one_publisher_at_a_time
from tests.support.relay_load import Load
from tests.support.servers import Endpoints

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import ALL_TOPICS
from eventledger_infra.settings import Settings
from eventledger_runtime.eventlog import RELAY_CHECKPOINT

BATCH = 200


@dataclasses.dataclass
class Rig:
    settings: Settings
    store: PostgresEventStore
    cluster: RelayCluster
    namespace: str

    @property
    def topics(self) -> list[str]:
        return [f"{self.namespace}.{t}" for t in ALL_TOPICS]

    def checkpoint(self) -> tuple[int, int]:
        with psycopg.connect(self.settings.postgres_dsn) as conn:
            row = conn.execute(
                "SELECT position, term FROM log_checkpoints WHERE name = %s", [RELAY_CHECKPOINT]
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)


@pytest.fixture
def rig(endpoints: Endpoints, tmp_path: Path) -> Iterator[Rig]:
    base = Settings.from_env()
    with scratch_database(base) as database:
        settings = dataclasses.replace(base, pg_database=database)
        namespace = f"failover-{uuid.uuid4().hex[:8]}"
        store = PostgresEventStore(settings.postgres_dsn, pool_size=4)
        cluster = RelayCluster(
            3,
            database=database,
            kafka_port=settings.kafka_port,
            namespace=namespace,
            log_dir=tmp_path,
            batch_size=BATCH,
        )
        rig = Rig(settings, store, cluster, namespace)
        try:
            yield rig
        finally:
            cluster.stop()
            store.close()
            delete_topics(settings.kafka_bootstrap, f"{namespace}.")


@pytest.mark.timeout(300)
def test_three_relays_leader_killed_twice_under_load(rig: Rig) -> None:
    rig.cluster.start()
    wait_for(lambda: rig.cluster.leader() is not None, 60, f"a leader:\n{rig.cluster.log_tails()}")
    assert sorted(r or "" for r in rig.cluster.roles()) == ["leader", "standby", "standby"]
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
