"""The relay under faults: SIGKILL under load, Kafka stopped and started under load. A checker proves that every
event reached Kafka at least once and in order per key. Each test runs its own broker, so stopping it disturbs no
other test or process."""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.support.kafka_checker import check_at_least_once_in_order, consume_all
from tests.support.processes import ManagedProcess, free_port, scratch_database, wait_for
from tests.support.projection_rig import delete_topics
from tests.support.relay_load import Load

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import ALL_TOPICS
from eventledger_infra.services.kafka import KafkaServer
from eventledger_infra.settings import Settings


@dataclasses.dataclass
class RelayRig:
    settings: Settings
    store: PostgresEventStore
    relay: ManagedProcess
    namespace: str

    @property
    def topics(self) -> list[str]:
        return [self.namespace + t for t in ALL_TOPICS]

    def checkpoint(self) -> int:
        with psycopg.connect(self.settings.postgres_dsn) as conn:
            row = conn.execute("SELECT position FROM log_checkpoints WHERE name = 'kafka-relay'").fetchone()
        return int(row[0]) if row else 0


@pytest.fixture
def rig(private_kafka: KafkaServer, tmp_path: Path) -> Iterator[RelayRig]:
    base = dataclasses.replace(Settings.from_env(), kafka_port=private_kafka.settings.kafka_port)
    with scratch_database(base) as database:
        settings = dataclasses.replace(base, pg_database=database)
        namespace = f"fault-{uuid.uuid4().hex[:8]}."
        store = PostgresEventStore(settings.postgres_dsn, pool_size=4)
        relay = ManagedProcess(
            "eventledger_command.relay",
            {
                "EVENTLEDGER_PG_DATABASE": database,
                "EVENTLEDGER_KAFKA_PORT": str(settings.kafka_port),
                "EVENTLEDGER_NAMESPACE": namespace.removesuffix("."),
                "EVENTLEDGER_RELAY_OPS_PORT": str(free_port()),
                "EVENTLEDGER_RELAY_BATCH_SIZE": "200",
            },
            tmp_path,
        )
        rig = RelayRig(settings, store, relay, namespace)
        try:
            yield rig
        finally:
            relay.kill()
            store.close()
            delete_topics(settings.kafka_bootstrap, namespace)


def _finish_and_check(rig: RelayRig) -> dict[str, int]:
    if not rig.relay.alive():
        rig.relay.start()
    head = rig.store.head_position()
    wait_for(lambda: rig.checkpoint() >= head, 120, f"the relay to reach position {head}:\n{rig.relay.log_tail()}")
    recorded = rig.store.read_all(limit=1_000_000)
    delivered = consume_all(rig.settings.kafka_bootstrap, rig.topics, expected=len(recorded))
    return check_at_least_once_in_order(recorded, delivered)


def test_relay_sigkilled_under_load_resumes_without_losing_or_reordering(rig: RelayRig) -> None:
    rig.relay.start()
    with Load(rig.store) as load:
        for _ in range(4):
            time.sleep(random.uniform(0.8, 1.6))
            rig.relay.kill()
            time.sleep(0.2)
            rig.relay.start()
        time.sleep(1.0)
    assert not load.errors, load.errors
    assert load.appended > 500
    report = _finish_and_check(rig)
    assert rig.relay.starts >= 5
    print(f"relay SIGKILL x4: {report}")


def test_kafka_stopped_and_started_under_load(rig: RelayRig, private_kafka: KafkaServer) -> None:
    kafka = private_kafka
    rig.relay.start()
    with Load(rig.store) as load:
        time.sleep(1.5)
        kafka.stop()
        try:
            before = load.appended
            time.sleep(4.0)
            during_outage = load.appended - before
        finally:
            kafka.start()
        time.sleep(1.5)
    assert not load.errors, load.errors
    assert during_outage > 100, "commands keep being accepted while Kafka is down"
    report = _finish_and_check(rig)
    assert rig.relay.starts == 1, "the relay rode out the outage without restarting"
    print(f"Kafka stop/start: {report}, appended during the outage: {during_outage}")
