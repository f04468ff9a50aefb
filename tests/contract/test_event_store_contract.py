"""One contract suite for every EventStore backend: in memory and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from tests.support.eventstore import (
    expected_event_hash,
    isolated_schema,
    new_event,
    out_of_order_store,
    tail_while_writing,
    write,
)

from eventledger_command.eventstore.errors import ConcurrencyConflict, IdempotencyKeyTaken
from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_command.eventstore.port import EventStore
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import (
    AppendRequest,
    Deadline,
    IdempotencyClaim,
    Snapshot,
    StoredResponse,
    StreamWrite,
)


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest) -> Iterator[EventStore]:
    if request.param == "memory":
        yield InMemoryEventStore()
        return
    with out_of_order_store(request.getfixturevalue("endpoints").postgres_dsn) as (backend, _):
        yield backend


def test_append_to_a_new_stream_and_read_it_back(store: EventStore) -> None:
    result = store.append(AppendRequest((write("account-a", 0, 3),)))
    events = store.read_stream("account-a")
    assert [e.stream_version for e in events] == [1, 2, 3]
    assert [e.position for e in events] == list(result.positions)
    assert list(result.positions) == sorted(result.positions)
    assert result.stream_versions == {"account-a": 3}
    assert store.stream_version("account-a") == 3
    assert store.stream_version("account-unknown") == 0


def test_metadata_and_payload_round_trip(store: EventStore) -> None:
    event = new_event("account.opened", holder_name="Zoë 💶")
    store.append(AppendRequest((StreamWrite("account-m", 0, (event,)),)))
    (recorded,) = store.read_stream("account-m")
    assert recorded.event_id == event.event_id
    assert recorded.event_type == "account.opened"
    assert recorded.schema_version == 1
    assert recorded.actor == "tester"
    assert recorded.correlation_id == event.correlation_id
    assert recorded.causation_id is None
    assert recorded.occurred_at == event.occurred_at
    assert recorded.recorded_at >= event.occurred_at - timedelta(seconds=5)
    assert orjson.loads(recorded.payload) == orjson.loads(event.payload), "the same JSON document"


def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(store: EventStore) -> None:
    store.append(AppendRequest((write("account-a", 0, 2),)))
    with pytest.raises(ConcurrencyConflict) as raised:
        store.append(AppendRequest((write("account-b", 0), write("account-a", 1))))
    assert raised.value.stream_id == "account-a"
    assert store.stream_version("account-b") == 0, "a multi-stream append is all or nothing"
    assert store.stream_version("account-a") == 2


def test_creating_a_stream_that_exists_is_a_conflict(store: EventStore) -> None:
    store.append(AppendRequest((write("transfer-x", 0),)))
    with pytest.raises(ConcurrencyConflict):
        store.append(AppendRequest((write("transfer-x", 0),)))


def test_a_multi_stream_append_gets_consecutive_positions_in_order(store: EventStore) -> None:
    result = store.append(AppendRequest((write("transfer-t", 0), write("account-a", 0), write("account-b", 0))))
    first = result.positions[0]
    assert list(result.positions) == [first, first + 1, first + 2]
    log = store.read_all()
    assert [e.stream_id for e in log] == ["transfer-t", "account-a", "account-b"]


def test_read_all_pages_in_position_order(store: EventStore) -> None:
    for i in range(7):
        store.append(AppendRequest((write(f"account-{i}", 0, 2),)))
    page1 = store.read_all(after_position=0, limit=5)
    page2 = store.read_all(after_position=page1[-1].position, limit=100)
    positions = [e.position for e in page1 + page2]
    assert len(positions) == 14
    assert positions == sorted(positions)
    assert len(set(positions)) == 14
    assert store.head_position() == positions[-1]
    assert store.read_all(after_position=positions[-1]) == []


def test_read_stream_windows(store: EventStore) -> None:
    store.append(AppendRequest((write("account-w", 0, 6),)))
    assert [e.stream_version for e in store.read_stream("account-w", after_version=2, to_version=4)] == [3, 4]
    assert [e.stream_version for e in store.read_stream("account-w", after_version=4)] == [5, 6]
    assert [e.stream_version for e in store.read_stream("account-w", limit=2)] == [1, 2]


def test_idempotency_answer_is_stored_with_the_events(store: EventStore) -> None:
    claim = IdempotencyClaim("client-1", "key-1", "fingerprint-1")

    def respond(result: Any) -> StoredResponse:
        return StoredResponse(201, f'{{"position": {result.last_position}}}'.encode())

    result = store.append(AppendRequest((write("account-i", 0),), idempotency=claim), respond)
    stored = store.find_idempotency("client-1", "key-1")
    assert stored is not None
    assert stored.request_fingerprint == "fingerprint-1"
    assert stored.response == StoredResponse(201, f'{{"position": {result.last_position}}}'.encode())
    assert store.find_idempotency("client-2", "key-1") is None, "keys are scoped per client"


def test_a_taken_idempotency_key_writes_nothing_and_returns_the_first_answer(store: EventStore) -> None:
    claim = IdempotencyClaim("client-1", "key-1", "fingerprint-1")
    store.append(AppendRequest((write("account-i", 0),), idempotency=claim), lambda r: StoredResponse(201, b"first"))
    other = IdempotencyClaim("client-1", "key-1", "fingerprint-2")
    with pytest.raises(IdempotencyKeyTaken) as raised:
        store.append(AppendRequest((write("account-j", 0),), idempotency=other), lambda r: StoredResponse(201, b"x"))
    assert raised.value.existing.request_fingerprint == "fingerprint-1"
    assert raised.value.existing.response.body == b"first"
    assert store.stream_version("account-j") == 0


def test_a_refusal_is_remembered_under_its_key(store: EventStore) -> None:
    claim = IdempotencyClaim("client-1", "key-r", "fingerprint-r")
    assert store.remember_response(claim, StoredResponse(409, b"insufficient funds")) is None
    again = store.remember_response(claim, StoredResponse(409, b"other"))
    assert again is not None
    assert again.response.body == b"insufficient funds"
    with pytest.raises(IdempotencyKeyTaken):
        store.append(AppendRequest((write("account-r", 0),), idempotency=claim), lambda r: StoredResponse(201, b""))
    assert store.stream_version("account-r") == 0


def test_idempotency_keys_are_purged_by_age(store: EventStore) -> None:
    claim = IdempotencyClaim("c", "k", "f")
    store.append(AppendRequest((write("account-p", 0),), idempotency=claim), lambda r: StoredResponse(200, b""))
    assert store.purge_idempotency(datetime.now(UTC) - timedelta(hours=24)) == 0
    assert store.find_idempotency("c", "k") is not None
    assert store.purge_idempotency(datetime.now(UTC) + timedelta(seconds=5)) == 1
    assert store.find_idempotency("c", "k") is None


def test_deadlines_are_set_and_cleared_with_the_events(store: EventStore) -> None:
    now = datetime.now(UTC)
    early, late = uuid.uuid4(), uuid.uuid4()
    store.append(AppendRequest((write("transfer-1", 0),), set_deadlines=(Deadline(late, now + timedelta(seconds=2)),)))
    store.append(AppendRequest((write("transfer-2", 0),), set_deadlines=(Deadline(early, now - timedelta(seconds=1)),)))

    def due(at: datetime) -> list[uuid.UUID]:
        return [tid for tid, _ in store.claim_due_deadlines(at, lease=timedelta(0))]  # no lease: claimable again

    assert due(now) == [early]
    with pytest.raises(ConcurrencyConflict):
        store.append(AppendRequest((write("transfer-2", 0),), clear_deadlines=(early,)))
    assert due(now) == [early], "a failed append clears nothing"
    store.append(AppendRequest((write("transfer-2", 1),), clear_deadlines=(early,)))
    assert due(now) == []
    assert due(now + timedelta(seconds=3)) == [late]


def test_a_claimed_deadline_is_skipped_until_its_lease_ends(store: EventStore) -> None:
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(3)]
    for i, transfer_id in enumerate(ids):
        due_at = now - timedelta(seconds=10 - i)
        store.append(AppendRequest((write(f"transfer-c{i}", 0),), set_deadlines=(Deadline(transfer_id, due_at),)))
    lease = timedelta(seconds=30)
    assert [tid for tid, _ in store.claim_due_deadlines(now, 2, lease)] == ids[:2], "earliest first, up to the limit"
    assert [tid for tid, _ in store.claim_due_deadlines(now, 2, lease)] == ids[2:], "claimed ones are skipped"
    assert store.claim_due_deadlines(now + timedelta(seconds=29), 10, lease) == []
    # The claimer died: when its lease ends, the deadlines are anyone's again.
    assert [tid for tid, _ in store.claim_due_deadlines(now + lease, 10, lease)] == ids


def test_the_latest_snapshot_wins(store: EventStore) -> None:
    assert store.latest_snapshot("account-s") is None
    store.save_snapshot(Snapshot("account-s", 100, b"v100"))
    store.save_snapshot(Snapshot("account-s", 50, b"v50"))
    assert store.latest_snapshot("account-s") == Snapshot("account-s", 100, b"v100")
    store.save_snapshot(Snapshot("account-s", 200, b"v200"))
    assert store.latest_snapshot("account-s") == Snapshot("account-s", 200, b"v200")


def test_concurrent_writers_and_a_tailing_reader_see_every_event_once_in_order(store: EventStore) -> None:
    """Writers on distinct and shared streams commit in any order; the tailer must neither skip nor repeat."""
    writers, appends_each = 8, 40
    appended: list[uuid.UUID] = []
    appended_lock = threading.Lock()

    def writer(number: int) -> None:
        for i in range(appends_each):
            own = f"account-w{number}"
            shared = f"account-shared-{i % 3}"
            while True:  # retry conflicts on the shared streams, as the command service does
                request = AppendRequest(
                    (
                        write(own, store.stream_version(own)),
                        write(shared, store.stream_version(shared)),
                    )
                )
                try:
                    store.append(request)
                except ConcurrencyConflict:
                    continue
                with appended_lock:
                    appended.extend(e.event_id for w in request.writes for e in w.events)
                break

    seen = tail_while_writing(lambda cursor: store.read_all(after_position=cursor, limit=50, wait=0.5), writer, writers)
    positions = [e.position for e in seen]
    assert positions == sorted(positions), "the tailer saw positions out of order"
    assert len(positions) == len(set(positions)), "the tailer saw an event twice"
    assert sorted(str(e.event_id) for e in seen) == sorted(str(e) for e in appended), "the tailer missed events"
    assert len(appended) == writers * appends_each * 2


def _hammer(store: EventStore, work: list[tuple[str, ...]], threads: int) -> list[BaseException]:
    """Each thread, for each stream set of ``work`` (rotated by the thread's number), reads the streams' versions
    and appends one event to each, inside ``exclusive``; answers the errors raised."""
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            for streams in work[number % len(work) :] + work[: number % len(work)]:
                with store.exclusive(streams):
                    store.append(AppendRequest(tuple(write(s, store.stream_version(s)) for s in streams)))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers), "holders of exclusive() deadlocked"
    return errors


def test_holders_of_a_stream_never_conflict(store: EventStore) -> None:
    """A read-then-append on one hot stream inside exclusive() never meets a concurrency conflict."""
    assert _hammer(store, [("account-hot",)] * 25, threads=8) == []
    assert store.stream_version("account-hot") == 200


def test_holders_of_overlapping_streams_in_any_order_neither_conflict_nor_deadlock(store: EventStore) -> None:
    work = [("account-a", "account-b"), ("account-b", "account-a"), ("account-b",), ("account-c", "account-a")] * 5
    assert _hammer(store, work, threads=8) == []
    versions = [store.stream_version(s) for s in ("account-a", "account-b", "account-c")]
    assert versions == [8 * 15, 8 * 15, 8 * 5]


def test_exclusive_keeps_the_version_check_against_writers_that_hold_no_lock(store: EventStore) -> None:
    store.append(AppendRequest((write("account-s", 0),)))
    outsider = threading.Thread(target=lambda: store.append(AppendRequest((write("account-s", 1),))))
    with store.exclusive(["account-s"]):
        version = store.stream_version("account-s")
        outsider.start()
        outsider.join(timeout=10)
        with pytest.raises(ConcurrencyConflict):
            store.append(AppendRequest((write("account-s", version),)))
    assert store.stream_version("account-s") == 2


def test_every_stream_is_a_hash_chain_made_at_append_by_the_published_formula(store: EventStore) -> None:
    """ADR 0025: each event's hash covers its content, position, recorded time and the previous event's hash, computed
    by the store (PL/pgSQL for PostgreSQL) exactly as the offline verifier recomputes it, across appends of several
    events and streams at once."""
    store.append(AppendRequest((write("account-h", 0, 2), write("account-i", 0, 1))))
    store.append(AppendRequest((write("account-h", 2, 3),)))
    store.append(AppendRequest((StreamWrite("account-h", 5, (new_event(note="Zoë 💶", amount=10**15),)),)))
    for stream_id in ("account-h", "account-i"):
        previous: bytes | None = None
        for event in store.read_stream(stream_id):
            expected = expected_event_hash(event, previous)
            assert event.event_hash == expected, (stream_id, event.stream_version)
            previous = event.event_hash


@pytest.fixture(params=["memory", "postgres"])
def clocked_store(request: pytest.FixtureRequest) -> Iterator[tuple[EventStore, list[datetime]]]:
    """A store whose recording times come from a clock the test sets (ADR 0034's seam), with that clock."""
    moments = [datetime(2026, 4, 5, 9, 0, 0, 123456, tzinfo=UTC)]
    if request.param == "memory":
        yield InMemoryEventStore(recording_clock=lambda: moments[0]), moments
        return
    with isolated_schema(request.getfixturevalue("endpoints").postgres_dsn) as dsn:
        backend = PostgresEventStore(dsn, pool_size=2, recording_clock=lambda: moments[0])
        try:
            yield backend, moments
        finally:
            backend.close()


def test_a_recording_clock_gives_each_append_its_recorded_time_and_the_chain_covers_it(
    clocked_store: tuple[EventStore, list[datetime]],
) -> None:
    """ADR 0034: the recording time ("when the ledger learnt it") is the store's, or its recording clock's when one is
    given, for every event of an append; the chain hash covers that time, as the offline verifier recomputes it."""
    store, moments = clocked_store
    store.append(AppendRequest((write("account-r", 0, 2), write("account-q", 0, 1))))
    moments[0] = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # a clock may even go back: the log order stays the position
    store.append(AppendRequest((write("account-r", 2, 1),)))
    recorded = {(e.stream_id, e.stream_version): e.recorded_at for e in store.read_all(after_position=0, limit=10)}
    first = datetime(2026, 4, 5, 9, 0, 0, 123456, tzinfo=UTC)
    assert recorded == {
        ("account-r", 1): first,
        ("account-r", 2): first,
        ("account-q", 1): first,
        ("account-r", 3): moments[0],
    }
    previous: bytes | None = None
    for event in store.read_stream("account-r"):
        assert event.event_hash == expected_event_hash(event, previous)
        previous = event.event_hash
