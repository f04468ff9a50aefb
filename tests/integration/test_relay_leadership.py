"""Relay leadership on real PostgreSQL (ADR 0016): the advisory lock, its loss when the holder's backend is
terminated, and the term fence that keeps a deposed leader from moving the checkpoint.

The relays here publish into in-memory publishers: what is under test is the lock and the checkpoint in PostgreSQL;
Kafka's side (three relay processes, the leader killed twice) is tests/fault/test_relay_failover.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from tests.support.eventstore import isolated_schema
from tests.support.ledger import credit, open_account
from tests.support.servers import Endpoints

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest
from eventledger_command.relay.leadership import PostgresAdvisoryLock
from eventledger_command.relay.publisher import InMemoryPublisher
from eventledger_command.relay.relay import TERM_HEADER, LeadershipLost, Relay, RelayConfig
from eventledger_runtime.eventlog import RELAY_CHECKPOINT, Deposed, PostgresEventLogReader

BATCH = 10


class UnnoticedLoss(PostgresAdvisoryLock):
    """A leader that cannot tell it lost its lock (a cut connection nothing has noticed yet): the worst case the
    fence is for."""

    def held(self) -> bool:
        return True


@dataclass
class Rig:
    dsn: str
    admin_dsn: str
    store: PostgresEventStore
    namespace: str
    account_id: uuid.UUID
    version: int = 1

    def append(self, events: int) -> None:
        for _ in range(events):
            self.store.append(AppendRequest((credit(self.account_id, self.version),)))
            self.version += 1

    def relay(self, lock: PostgresAdvisoryLock) -> tuple[Relay, InMemoryPublisher]:
        publisher = InMemoryPublisher()
        reader = PostgresEventLogReader(self.dsn)
        return Relay(self.store, publisher, reader, RelayConfig(batch_size=BATCH), lock), publisher

    def lock(self, kind: type[PostgresAdvisoryLock] = PostgresAdvisoryLock) -> PostgresAdvisoryLock:
        return kind(self.dsn, namespace=self.namespace, name=RELAY_CHECKPOINT)

    def checkpoint(self) -> tuple[int, int]:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SELECT position, term FROM log_checkpoints WHERE name = %s", [RELAY_CHECKPOINT])
            found = row.fetchone()
        assert found is not None
        return int(found[0]), int(found[1])

    def terminate(self, lock: PostgresAdvisoryLock) -> None:
        pid = lock.backend_pid
        assert pid is not None
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def rig(endpoints: Endpoints) -> Iterator[Rig]:
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        store = PostgresEventStore(dsn, pool_size=4)
        account_id = uuid.uuid4()
        store.append(AppendRequest((open_account(account_id),)))
        rig = Rig(dsn, endpoints.postgres_dsn, store, f"lead-{uuid.uuid4().hex[:8]}", account_id)
        rig.append(3 * BATCH - 1)
        try:
            yield rig
        finally:
            store.close()


def _positions(publisher: InMemoryPublisher) -> list[int]:
    return [int(dict(r.headers)["position"]) for r in publisher.sent]


def _take_over(relay: Relay, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not relay.campaign():
        assert time.monotonic() < deadline, "the standby never got the lock"
        time.sleep(0.05)


def test_one_lock_per_namespace_and_schema(rig: Rig) -> None:
    first, second = rig.lock(), rig.lock()
    other = PostgresAdvisoryLock(rig.dsn, namespace=rig.namespace + "-other", name=RELAY_CHECKPOINT)
    try:
        assert first.try_acquire()
        assert first.try_acquire(), "holding it already is holding it"
        assert not second.try_acquire()
        assert other.try_acquire(), "another deployment's relay never contends"
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        for lock in (first, second, other):
            lock.close()


def test_a_terminated_leader_notices_before_publishing_and_a_standby_resumes_from_the_checkpoint(rig: Rig) -> None:
    lock_a, lock_b = rig.lock(), rig.lock()
    (a, sent_a), (b, sent_b) = rig.relay(lock_a), rig.relay(lock_b)
    try:
        assert a.campaign()
        assert not b.campaign()
        assert a.run_once() == BATCH
        rig.terminate(lock_a)  # PostgreSQL ends the session, and with it the lock
        _take_over(b)
        assert (a.term, b.term) == (1, 2)
        with pytest.raises(LeadershipLost):
            a.run_once()
        a.step_down("lost")
        while b.run_once():
            pass
        assert _positions(sent_a) == list(range(1, BATCH + 1))
        assert _positions(sent_b) == list(range(BATCH + 1, 3 * BATCH + 1))
        assert rig.checkpoint() == (3 * BATCH, 2)
    finally:
        lock_a.close()
        lock_b.close()


def test_a_deposed_leader_that_did_not_notice_cannot_move_the_checkpoint(rig: Rig) -> None:
    lock_a, lock_b = rig.lock(UnnoticedLoss), rig.lock()
    (a, sent_a), (b, sent_b) = rig.relay(lock_a), rig.relay(lock_b)
    try:
        assert a.campaign()
        assert a.run_once() == BATCH  # checkpoint 10, term 1
        rig.terminate(lock_a)
        _take_over(b)  # term 2, from 10
        assert b.run_once() == BATCH  # 11..20, checkpoint 20
        with pytest.raises(Deposed):
            a.run_once()  # its batch in hand (11..20 again) goes out; its save is fenced off
        assert rig.checkpoint() == (2 * BATCH, 2)
        a.step_down("deposed")
        rig.append(5)
        while b.run_once() + a.run_once():
            pass
        assert _positions(sent_a) == list(range(1, 2 * BATCH + 1)), "one batch of overlap, then nothing"
        assert {dict(r.headers)[TERM_HEADER] for r in sent_a.sent} == {b"1"}
        assert _positions(sent_b) == list(range(BATCH + 1, 3 * BATCH + 6))
        assert rig.checkpoint() == (3 * BATCH + 5, 2)
    finally:
        lock_a.close()
        lock_b.close()
