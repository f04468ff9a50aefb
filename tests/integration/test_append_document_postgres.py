"""The PostgreSQL append of one JSON document and the exclusive block of one round trip (ADR 0041): what only the
PostgreSQL store does (its unique index, its PL/pgSQL chain, its advisory locks) under concurrent writers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from tests.support.eventstore import expected_event_hash, isolated_schema, new_event, write
from tests.support.servers import Endpoints

from eventledger_command.eventstore.errors import ConcurrencyConflict, IdempotencyKeyTaken
from eventledger_command.eventstore.postgres import PostgresEventStore, begin_and_lock
from eventledger_command.eventstore.records import (
    AppendRequest,
    Deadline,
    IdempotencyClaim,
    StoredResponse,
    StreamWrite,
)


@pytest.fixture
def store(endpoints: Endpoints) -> Iterator[PostgresEventStore]:
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        backend = PostgresEventStore(dsn, pool_size=6)
        try:
            yield backend
        finally:
            backend.close()


def _assert_chained(store: PostgresEventStore, stream_id: str) -> int:
    """Every event of ``stream_id`` is linked to the one before by the published formula; answers how many."""
    previous: bytes | None = None
    events = store.read_stream(stream_id)
    for number, event in enumerate(events, start=1):
        assert event.stream_version == number
        assert event.event_hash == expected_event_hash(event, previous)
        previous = event.event_hash
    return len(events)


def test_two_writers_of_one_version_one_wins_the_other_conflicts_and_writes_nothing(store: PostgresEventStore) -> None:
    store.append(AppendRequest((write("account-c", 0),)))
    winner = write("account-c", 1)
    loser = StreamWrite("account-c", 1, (new_event(amount=2),))
    store.append(AppendRequest((winner,)))
    with pytest.raises(ConcurrencyConflict) as conflict:
        store.append(AppendRequest((loser, write("account-d", 0))))
    assert conflict.value.stream_id == "account-c"
    assert [e.event_id for e in store.read_stream("account-c")][1] == winner.events[0].event_id
    assert store.read_stream("account-d") == []


def test_four_concurrent_writers_of_a_shared_stream_keep_its_chain_whole(store: PostgresEventStore) -> None:
    """Four threads append to one shared stream and each to its own, in exclusive blocks (as commands do) and in
    two-stream appends: no conflict, no gap, every event chained to the one before."""
    writers, appends_each = 4, 25
    errors: list[BaseException] = []

    def run(number: int) -> None:
        own = f"account-own-{number}"
        try:
            for _ in range(appends_each):
                with store.exclusive(["account-shared", own]):
                    request = AppendRequest(
                        (
                            write("account-shared", store.stream_version("account-shared"), 2),
                            write(own, store.stream_version(own)),
                        )
                    )
                    store.append(request)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert _assert_chained(store, "account-shared") == writers * appends_each * 2
    for number in range(writers):
        assert _assert_chained(store, f"account-own-{number}") == appends_each


def test_a_retried_request_gets_the_first_answer_and_writes_once(store: PostgresEventStore) -> None:
    claim = IdempotencyClaim("deposits", f"key-{uuid.uuid4()}", "fingerprint")
    due = datetime(2026, 12, 7, tzinfo=UTC)
    transfer = uuid.uuid4()
    first = store.append(
        AppendRequest((write("account-i", 0),), (Deadline(transfer, due),), (), claim),
        lambda result: StoredResponse(201, b"%d" % result.positions[0]),
    )
    with pytest.raises(IdempotencyKeyTaken) as taken:
        store.append(AppendRequest((write("account-i", 1),), (), (), claim))
    assert taken.value.existing.response == StoredResponse(201, b"%d" % first.positions[0])
    assert store.stream_version("account-i") == 1
    assert store.claim_due_deadlines(due + timedelta(seconds=1)) == [(transfer, due)]


def test_a_failed_exclusive_block_rolls_back_its_append_and_frees_its_locks(store: PostgresEventStore) -> None:
    def failing() -> None:
        with store.exclusive(["account-r"]):
            store.append(AppendRequest((write("account-r", 0),)))
            raise RuntimeError("the command fails after its append")

    with pytest.raises(RuntimeError):
        failing()
    assert store.read_stream("account-r") == []

    def again() -> None:
        with store.exclusive(["account-r"]):
            store.append(AppendRequest((write("account-r", 0),)))

    retried = threading.Thread(target=again)  # another thread: a lock left held would keep it waiting
    retried.start()
    retried.join(timeout=30)
    assert not retried.is_alive()
    assert store.stream_version("account-r") == 1


def test_the_block_opening_query_takes_each_lock_in_the_given_order(endpoints: Endpoints) -> None:
    keys = [-(2**63), -5, 7, 2**63 - 1]
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        conn.execute(begin_and_lock(keys))
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        held = conn.execute(
            "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks"
            " WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY 1"
        ).fetchall()
        conn.rollback()
    assert sorted(row[0] for row in held) == sorted(keys)
