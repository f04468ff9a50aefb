"""The PostgreSQL projector under faults: SIGKILL exactly between its store write and its Kafka offset commit,
and SIGKILL at random moments under load. The read model must equal a replay of the event store, with no double
effect, once a restarted projector has caught up."""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from tests.support.background import Repeatedly
from tests.support.processes import wait_for
from tests.support.projection_rig import (
    ProjectorProcess,
    ScratchLedger,
    Workload,
    assert_read_model_matches,
    reflected,
)
from tests.support.servers import Endpoints


@dataclasses.dataclass
class Rig(ScratchLedger):
    tmp_path: Path

    def projector(self, **extra: str) -> ProjectorProcess:
        return self.projector_process("postgres", self.tmp_path, extra_env=extra)

    def stored_offsets(self) -> dict[tuple[str, int], int]:
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute("SELECT topic, partition, next_offset FROM read_model.projection_partitions")
            return {(t, p): int(o) for t, p, o in rows.fetchall()}

    def committed_offsets(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        consumer = Consumer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap,
                "group.id": f"{self.namespace}eventledger-projection-postgres",
                "enable.auto.commit": False,
            }
        )
        try:
            found = consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=10)
        finally:
            consumer.close()
        return {(tp.topic, tp.partition): max(tp.offset, 0) for tp in found}


@pytest.fixture
def rig(endpoints: Endpoints, tmp_path: Path) -> Iterator[Rig]:
    with ScratchLedger.created("pfault") as ledger:
        yield Rig(ledger.database, ledger.settings, ledger.namespace, ledger.store, tmp_path)


def test_sigkill_between_the_store_write_and_the_offset_commit_leaves_no_double_effect(rig: Rig) -> None:
    workload = Workload(rig.store, seed=31)
    doomed = rig.projector(EVENTLEDGER_PROJECTION_BATCH_SIZE="20", EVENTLEDGER_PROJECTION_TEST_KILL_AFTER_BATCHES="4")
    survivor = rig.projector(EVENTLEDGER_PROJECTION_BATCH_SIZE="20")
    try:
        with rig.relay():
            workload.run(300)
            head = rig.store.head_position()
            wait_for(lambda: _relay_checkpoint(rig) >= head, 60, "the relay to publish everything")
            doomed.start()
            assert doomed.process is not None
            assert doomed.process.wait(60) == -9, doomed.log_tail()
            assert "SIGKILL after the store write of batch 4" in doomed.log_tail()

            stored = rig.stored_offsets()
            committed = rig.committed_offsets(list(stored))
            ahead = {tp: (stored[tp], committed.get(tp, 0)) for tp in stored if stored[tp] > committed.get(tp, 0)}
            assert ahead, "the kill landed after the store write and before the Kafka commit"

            survivor.start()
            wait_for(lambda: reflected(rig.dsn) >= head, 90, f"the restarted projector:\n{survivor.log_tail()}")
        assigned = re.findall(r"(\S+)\[(\d+)\]@(\d+)", survivor.log_tail(200))
        resumed_at = {(topic, int(partition)): int(offset) for topic, partition, offset in assigned}
        for tp in ahead:
            assert resumed_at[tp] == stored[tp], "it resumed from the read model's offsets, not Kafka's"
        assert_read_model_matches(rig.store, rig.dsn)
    finally:
        doomed.kill()
        survivor.kill()


def test_projector_sigkilled_at_random_under_load_converges_to_the_event_store(rig: Rig) -> None:
    workload = Workload(rig.store, seed=32)
    projector = rig.projector(EVENTLEDGER_PROJECTION_BATCH_SIZE="50")
    try:
        with rig.relay():
            projector.start()
            with Repeatedly(lambda: workload.run(5), pause=0.005) as load:
                for _ in range(3):
                    time.sleep(random.uniform(1.0, 2.0))
                    projector.kill()
                    time.sleep(0.2)
                    projector.start()
            head = rig.store.head_position()
            wait_for(lambda: reflected(rig.dsn) >= head, 120, f"the projector to converge:\n{projector.log_tail()}")
        assert not load.errors, load.errors
        assert workload.accepted > 200
        assert projector.starts == 4
        assert_read_model_matches(rig.store, rig.dsn)
    finally:
        projector.kill()


def _relay_checkpoint(rig: Rig) -> int:
    with psycopg.connect(rig.dsn) as conn:
        row = conn.execute("SELECT position FROM log_checkpoints WHERE name = 'kafka-relay'").fetchone()
    return int(row[0]) if row else 0
