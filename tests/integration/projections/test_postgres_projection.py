"""The PostgreSQL read model on real PostgreSQL and Kafka: it equals a replay of the event store, redelivery
changes nothing, poison messages are parked while the projection goes on, the reflected position never runs
ahead of what is applied, and pause/resume holds on a real consumer."""

from __future__ import annotations

import random
import string
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from tests.support.ledger import recorded
from tests.support.processes import wait_for
from tests.support.projection_rig import (
    ScratchLedger,
    Workload,
    assert_read_model_matches,
    dead_letters,
    namespace_of,
    produce,
)
from tests.support.servers import Endpoints

from eventledger_events import (
    ACCOUNTS_TOPIC,
    AccountOpened,
    to_kafka_record,
)
from eventledger_events.streams import account_stream_id
from eventledger_projections.bootstrap import Projector, build_projector
from eventledger_projections.postgres import PostgresRebuild, PostgresRebuildConfig, reflected_position
from eventledger_projections.rebuild.port import RebuildReport
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.settings import ProjectionSettings


@dataclass
class Rig(ScratchLedger):
    projector: Projector
    thread: threading.Thread

    def reflected(self) -> int:
        with psycopg.connect(self.dsn) as conn:
            return reflected_position(conn)

    def wait_until_reflected(self, position: int | None = None, timeout: float = 60.0) -> None:
        target = position if position is not None else self.store.head_position()
        wait_for(lambda: self.reflected() >= target, timeout, f"the read model to reflect position {target}")


@pytest.fixture
def rig(endpoints: Endpoints) -> Iterator[Rig]:
    with ScratchLedger.created() as ledger:
        projection_settings = ProjectionSettings(
            namespace=namespace_of(ledger.namespace).value,
            batch_size=100,
            backoff_initial_seconds=0.01,
            progress_interval_seconds=0.1,
        )
        projector = build_projector("postgres", projection_settings, ledger.settings)
        thread = threading.Thread(target=projector.runner.run, name="projector", daemon=True)
        thread.start()
        try:
            yield Rig(ledger.database, ledger.settings, ledger.namespace, ledger.store, projector, thread)
        finally:
            projector.runner.stop()
            thread.join(30)
            projector.close()


def test_after_a_random_workload_the_read_model_equals_a_replay_of_the_event_store(rig: Rig) -> None:
    workload = Workload(rig.store, seed=11)
    rig.play(workload, 400, rig.wait_until_reflected)
    expected = assert_read_model_matches(rig.store, rig.dsn)
    assert workload.accepted > 250
    assert len(expected.transfers) > 100
    assert {row[6] for row in expected.transfers.values()} >= {"posted", "pending", "voided", "expired"}
    assert {row[3] for row in expected.accounts.values()} >= {"open", "frozen"}
    assert rig.reflected() == rig.store.head_position()


def test_delivering_every_event_twice_changes_nothing(rig: Rig) -> None:
    workload = Workload(rig.store, seed=12)
    rig.play(workload, 200, rig.wait_until_reflected)
    before = assert_read_model_matches(rig.store, rig.dsn)
    # A second relay with its own checkpoint publishes the whole log again into the same topics.
    with rig.relay(checkpoint="again") as again:
        head = rig.store.head_position()
        wait_for(lambda: again.position >= head, 60, "the second relay to publish everything again")
    wait_for(lambda: rig.projector.runner.caught_up and _lag(rig) == 0, 60, "the projector to read the duplicates")
    after = assert_read_model_matches(rig.store, rig.dsn)
    assert after == before


def _lag(rig: Rig) -> int:
    """Messages in the topics not yet behind the read model's stored offsets."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": rig.bootstrap, "group.id": f"lag-{uuid.uuid4()}"})
    try:
        with psycopg.connect(rig.dsn) as conn:
            rows = conn.execute("SELECT topic, partition, next_offset FROM read_model.projection_partitions").fetchall()
        return sum(
            max(0, consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1] - int(o)) for t, p, o in rows
        )
    finally:
        consumer.close()


def test_poison_messages_are_parked_with_reason_and_headers_and_the_projection_goes_on(rig: Rig) -> None:
    _, _, unappliable = rig.poison_midway(13, rig.wait_until_reflected, "postgres")
    assert "never seen opened" in unappliable["headers"]["dlq-reason"]
    assert_read_model_matches(rig.store, rig.dsn)
    with psycopg.connect(rig.dsn) as conn:
        row = conn.execute("SELECT sum(dead_letters) FROM read_model.projection_partitions").fetchone()
    assert row == (2,)


def test_the_reflected_position_is_never_ahead_of_what_is_applied(rig: Rig) -> None:
    rig.check_claims_while_moving(
        Workload(rig.store, seed=14),
        rig.reflected,
        rig.wait_until_reflected,
        lambda claimed: _assert_everything_up_to_is_applied(rig, claimed),
    )


def _assert_everything_up_to_is_applied(rig: Rig, claimed: int) -> None:
    """Every event at or below ``claimed`` is reflected by its row (read after the claim: rows only move on)."""
    events = rig.store.read_all(limit=10_000_000, wait=0)
    with psycopg.connect(rig.dsn) as conn:
        query = "SELECT 'account-' || account_id, version FROM read_model.accounts"
        versions: dict[str, int] = dict(conn.execute(query).fetchall())
        versions |= dict(conn.execute("SELECT 'transfer-' || transfer_id, version FROM read_model.transfers"))
    late = [e for e in events if e.position <= claimed and versions.get(e.stream_id, 0) < e.stream_version]
    assert not late, f"claimed {claimed} but {len(late)} events at or below it are not applied, first {late[0]}"


def test_pause_holds_the_read_model_still_and_resume_catches_up(rig: Rig) -> None:
    workload = Workload(rig.store, seed=15)
    with rig.relay():
        workload.run(30)
        rig.wait_until_reflected()
        rig.projector.runner.pause()
        time.sleep(0.5)
        frozen_at = rig.reflected()
        workload.run(50)
        head = rig.store.head_position()
        wait_for(lambda: _relay_checkpoint(rig) >= head, 30, "the relay to publish")
        time.sleep(1.5)
        assert rig.reflected() == frozen_at, "nothing is applied while paused"
        rig.projector.runner.resume()
        rig.wait_until_reflected(head)
    assert_read_model_matches(rig.store, rig.dsn)


def _relay_checkpoint(rig: Rig) -> int:
    with psycopg.connect(rig.dsn) as conn:
        row = conn.execute("SELECT position FROM log_checkpoints WHERE name = 'kafka-relay'").fetchone()
    return int(row[0]) if row else 0


# ---------------------------------------------------------------------- rebuilds


def _live_version(rig: Rig) -> tuple[int, str]:
    with psycopg.connect(rig.dsn) as conn:
        row = conn.execute("SELECT version, schema_name FROM read_model.live_version").fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def _schemas(rig: Rig) -> set[str]:
    with psycopg.connect(rig.dsn) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'read_model%'").fetchall()
    return {row[0] for row in rows}


def test_a_rebuild_builds_beside_the_live_version_and_switches_without_going_back(rig: Rig) -> None:
    late = Workload(rig.store, seed=17)

    def rebuild() -> RebuildReport:
        source = EventStoreSource(PostgresEventLogReader(rig.dsn))
        try:
            return PostgresRebuild(
                rig.dsn,
                source,
                config=PostgresRebuildConfig(batch_size=40, handover_lag=10),
                before_switch=lambda: late.run(30),  # the log moves on between the bulk replay and the switch
            ).run()
        finally:
            source.close()

    report, samples = rig.rebuild_under_load(
        rebuild,
        workload=Workload(rig.store, seed=16),
        late=late,
        wait_until_reflected=rig.wait_until_reflected,
        reflected=rig.reflected,
        switched=lambda: rig.projector.projection.version.number == 2,  # type: ignore[attr-defined]
    )
    assert (report.version, report.where, report.previous) == (2, "read_model_v2", 1)
    assert report.events >= 250
    assert report.skipped == 0
    assert _live_version(rig) == (2, "read_model_v2")
    assert {"read_model", "read_model_v1", "read_model_v2"} <= _schemas(rig), "the previous version is kept"
    assert_read_model_matches(rig.store, rig.dsn)
    assert samples == sorted(samples), "the reflected position never went back across the switch"
    with psycopg.connect(rig.dsn) as conn:
        offsets = conn.execute("SELECT sum(next_offset) FROM read_model_v2.projection_partitions").fetchone()
    assert offsets is not None
    assert int(offsets[0]) > 0, "the new version took over the live Kafka offsets"


def test_the_rebuild_command_shows_progress_and_keeps_one_previous_version(rig: Rig) -> None:
    runs = rig.rebuild_twice_from_the_cli("postgres", Workload(rig.store, seed=18), rig.wait_until_reflected)
    assert "rebuilt postgres: read_model_v2 from" in runs[0].stdout
    assert "rebuilt postgres: read_model_v3 from" in runs[1].stdout
    assert "dropped read_model_v1" in runs[1].stdout
    assert _live_version(rig) == (3, "read_model_v3")
    assert "read_model_v1" not in _schemas(rig)
    assert_read_model_matches(rig.store, rig.dsn)


def test_an_event_the_database_refuses_is_parked_and_the_connection_stays_usable(rig: Rig) -> None:
    """A fault found by PostgreSQL itself (an index row too large), inside the pipelined batch transaction."""
    workload = Workload(rig.store, seed=19)
    with rig.relay():
        workload.run(40)
        rig.wait_until_reflected()
        giant = uuid.uuid4()
        holder = "".join(random.choices(string.ascii_letters + string.digits, k=9000))
        opened = AccountOpened(account_id=giant, holder_name=holder, currency="EUR")
        envelope = recorded(opened, account_stream_id(giant), 1, 1, actor="intruder")
        record = to_kafka_record(envelope)
        topic = rig.namespace + ACCOUNTS_TOPIC
        produce(rig.bootstrap, topic, record.key, record.value, list(record.headers))
        workload.run(40)
        rig.wait_until_reflected()
    [parked] = dead_letters(rig.bootstrap, rig.namespace, expected=1)
    assert parked["headers"]["event-id"] == str(envelope.event_id)
    assert "ProgramLimitExceeded" in parked["headers"]["dlq-reason"]
    assert_read_model_matches(rig.store, rig.dsn)
