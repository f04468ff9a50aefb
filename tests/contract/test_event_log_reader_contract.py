"""One contract suite for every EventLogReader backend: in memory and PostgreSQL (the runtime kit's port)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
import pytest
from tests.support.eventstore import new_event, out_of_order_store, tail_while_writing, write

from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_command.eventstore.records import AppendRequest, StreamWrite
from eventledger_runtime.eventlog import Deposed, EventLogReader, InMemoryEventLog, PostgresEventLogReader


@dataclass
class Log:
    """A backend's reader with the means to write to the log it reads: ``append(stream_id, event_types)`` records
    one event per type on a new stream and answers their positions; ``waste()`` uses up a position with nothing
    recorded (a failed append)."""

    reader: EventLogReader
    append: Callable[[str, list[str]], list[int]]
    waste: Callable[[], None]


def _memory() -> Log:
    log = InMemoryEventLog()

    def append(stream_id: str, event_types: list[str]) -> list[int]:
        return [
            log.append(stream_id, version, event_type, orjson.dumps({"n": version}).decode()).position
            for version, event_type in enumerate(event_types, start=1)
        ]

    return Log(log, append, log.skip_position)


@pytest.fixture(params=["memory", "postgres"])
def log(request: pytest.FixtureRequest) -> Iterator[Log]:
    if request.param == "memory":
        yield _memory()
        return
    with out_of_order_store(request.getfixturevalue("endpoints").postgres_dsn) as (store, dsn):
        reader = PostgresEventLogReader(dsn)

        def append(stream_id: str, event_types: list[str]) -> list[int]:
            events = tuple(new_event(event_type) for event_type in event_types)
            return list(store.append(AppendRequest((StreamWrite(stream_id, 0, events),))).positions)

        def waste() -> None:
            store.append(AppendRequest((write("account-taken", 0),)))
            with pytest.raises(ConcurrencyConflict):  # the first write draws a position, the second conflicts
                store.append(AppendRequest((write("account-wasted", 0), write("account-taken", 0))))

        try:
            yield Log(reader, append, waste)
        finally:
            reader.close()


def test_an_empty_log_reads_nothing_and_its_heads_are_zero(log: Log) -> None:
    assert log.reader.read(0, wait=0) == []
    assert log.reader.read_range(0, 100, limit=10) == []
    assert log.reader.count(0, 100) == 0
    assert log.reader.head_position() == 0
    assert log.reader.safe_head() == 0


def test_the_tail_read_pages_in_position_order(log: Log) -> None:
    written = [p for i in range(7) for p in log.append(f"account-{i}", ["test.a", "test.b"])]
    page1 = log.reader.read(0, limit=5)
    page2 = log.reader.read(page1[-1].position, limit=100)
    assert [e.position for e in page1 + page2] == written
    assert [e.stream_version for e in page1[:2]] == [1, 2]
    assert log.reader.read(written[-1], wait=0) == []
    assert log.reader.head_position() == written[-1]


def test_events_keep_their_metadata_and_stored_payload(log: Log) -> None:
    (position,) = log.append("account-m", ["test.happened"])
    (event,) = log.reader.read(position - 1, limit=1)
    assert (event.position, event.stream_id, event.stream_version, event.event_type) == (
        position,
        "account-m",
        1,
        "test.happened",
    )
    assert event.schema_version == 1
    assert event.actor
    assert event.causation_id is None
    assert isinstance(orjson.loads(event.payload), dict), "the payload is the stored JSON text"


def test_a_range_read_stays_within_its_bounds_and_filters_by_type(log: Log) -> None:
    positions = log.append("transfer-r", ["test.a", "test.b", "test.a", "test.c", "test.a"])
    first, last = positions[0], positions[-1]
    inside = log.reader.read_range(first, last - 1, limit=100)
    assert [e.position for e in inside] == positions[1:-1], "after is exclusive, upto inclusive"
    assert [e.position for e in log.reader.read_range(first - 1, last, limit=2)] == positions[:2]
    only_a = log.reader.read_range(first - 1, last, limit=100, event_types=["test.a"])
    assert [e.position for e in only_a] == [positions[0], positions[2], positions[4]]
    assert log.reader.count(first - 1, last) == 5
    assert log.reader.count(first - 1, last, event_types=["test.a", "test.c"]) == 4
    assert log.reader.count(first, last - 1, event_types=["test.z"]) == 0


def test_a_failed_append_leaves_a_hole_that_every_read_steps_over(log: Log) -> None:
    before = log.append("account-h1", ["test.a"])
    log.waste()
    after = log.append("account-h2", ["test.a"])
    tail: list[int] = []
    for _ in range(5):  # a read stops at a hole it meets first; a later one steps over it once it is decided
        tail.extend(e.position for e in log.reader.read(tail[-1] if tail else 0, wait=2.0))
        if tail and tail[-1] == after[0]:
            break
    assert tail[0] == before[0]
    assert tail[-1] == after[0], "the decided hole does not stop the tail read"
    assert len(tail) < after[0] - before[0] + 1, "a position was used up without an event"
    head = log.reader.safe_head()
    assert head == after[0]
    assert [e.position for e in log.reader.read_range(0, head, limit=100)] == tail


def test_checkpoints_are_named_and_never_move_backwards(log: Log) -> None:
    assert log.reader.checkpoint("relay") == 0
    log.reader.save_checkpoint("relay", 10)
    log.reader.save_checkpoint("relay", 7)
    log.reader.save_checkpoint("other", 3)
    assert log.reader.checkpoint("relay") == 10
    assert log.reader.checkpoint("other") == 3
    log.reader.save_checkpoint("relay", 12)
    assert log.reader.checkpoint("relay") == 12


def test_the_safe_head_covers_every_event_committed_before_it_and_reads_settled(log: Log) -> None:
    """Writers commit out of position order while a reader asks for safe heads and reads up to them: every read up to
    a safe head is final, so the range below it never changes and holds every event committed before the call."""
    writers, appends_each = 6, 15
    committed: set[int] = set()
    committed_lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            for i in range(appends_each):
                positions = log.append(f"account-s{number}-{i}", ["test.a", "test.b"])
                with committed_lock:
                    committed.update(positions)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    checks = 0
    while any(t.is_alive() for t in threads) or checks < 2:
        with committed_lock:
            before = set(committed)
        head = log.reader.safe_head(timeout=30)
        settled = [e.position for e in log.reader.read_range(0, head, limit=100_000)]
        assert before <= set(settled), "the safe head is below an event committed before it was asked"
        time.sleep(0.01)
        assert [e.position for e in log.reader.read_range(0, head, limit=100_000)] == settled, "a settled range moved"
        checks += 1
    for t in threads:
        t.join()
    assert not errors, errors


def test_concurrent_writers_and_a_tailing_reader_see_every_event_once_in_order(log: Log) -> None:
    writers, appends_each = 8, 30
    appended: list[int] = []
    appended_lock = threading.Lock()

    def writer(number: int) -> None:
        for i in range(appends_each):
            positions = log.append(f"account-t{number}-{i}", ["test.a"])
            with appended_lock:
                appended.extend(positions)

    tailed = tail_while_writing(lambda cursor: log.reader.read(cursor, limit=50, wait=0.5), writer, writers)
    seen = [e.position for e in tailed]
    assert seen == sorted(seen), "the tailer saw positions out of order"
    assert len(seen) == len(set(seen)), "the tailer saw an event twice"
    assert sorted(seen) == sorted(appended), "the tailer missed events"
    assert len(appended) == writers * appends_each


def test_a_fenced_checkpoint_moves_only_under_its_current_term(log: Log) -> None:
    log.reader.save_checkpoint("relay", 4)
    assert log.reader.take_office("relay") == (1, 4), "taking office keeps the position saved"
    log.reader.save_checkpoint("relay", 8, term=1)
    assert log.reader.take_office("relay") == (2, 8)
    with pytest.raises(Deposed):
        log.reader.save_checkpoint("relay", 20, term=1)
    assert log.reader.checkpoint("relay") == 8, "a save under a term that is over changes nothing"
    log.reader.save_checkpoint("relay", 12, term=2)
    log.reader.save_checkpoint("relay", 10, term=2)
    assert log.reader.checkpoint("relay") == 12, "never backwards"
    assert log.reader.take_office("new") == (1, 0), "a checkpoint not saved yet starts at term 1, position 0"


def test_a_rewind_moves_the_checkpoint_back_and_deposes_the_leader(log: Log) -> None:
    assert log.reader.rewind_checkpoint("never-saved") == 0
    assert log.reader.checkpoint("never-saved") == 0
    log.reader.save_checkpoint("relay", 9)
    term, _ = log.reader.take_office("relay")
    assert log.reader.rewind_checkpoint("relay") == 9, "it answers where the checkpoint was"
    assert log.reader.checkpoint("relay") == 0
    with pytest.raises(Deposed):
        log.reader.save_checkpoint("relay", 9, term=term)
    assert log.reader.take_office("relay") == (term + 2, 0), "the successor resumes from the rewound position"
    log.reader.rewind_checkpoint("relay", 3)
    assert log.reader.checkpoint("relay") == 3


def test_concurrent_candidates_each_get_a_term_of_their_own(log: Log) -> None:
    terms: list[int] = []
    lock = threading.Lock()

    def candidate() -> None:
        term, _ = log.reader.take_office("relay")
        with lock:
            terms.append(term)

    threads = [threading.Thread(target=candidate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(terms) == list(range(1, 9))
    for term in range(1, 8):
        with pytest.raises(Deposed):
            log.reader.save_checkpoint("relay", 1, term=term)
    log.reader.save_checkpoint("relay", 1, term=8)
    assert log.reader.checkpoint("relay") == 1
