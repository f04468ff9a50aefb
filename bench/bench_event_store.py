"""PRODUCT.md §6 items 1 and 2: event-store append rate against a raw psycopg insert+commit of the same payload,
at 1 and 4 clients, and 4 writers on distinct streams against 1 writer.

Also the cost of the verifiable log's hash chain on the append path (ADR 0025): main's store with the append of
migration 004 (no content digest in Python, no chaining in PL/pgSQL), installed beside it in the scratch database
and alternated with it in the same run; and the append in one JSON document (ADR 0041) against main's append of 15
arrays (``ArraysStore``), and the calls a command makes (exclusive block, reads, append) against main's, and with
the new-events announcer the command service uses (its NOTIFY thread's CPU counts: it is this process's), in the
same run.

Run with the servers up: ``make up && .venv/bin/python -m bench.bench_event_store``.
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from tests.support.ledger import credit

from bench._common import compare, scratch_database, timed_rate
from eventledger_command.eventstore.locks import stream_lock_keys
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest, NewEvent, StreamWrite
from eventledger_infra.settings import Settings
from eventledger_runtime.eventlog.notice import PostgresNewEventsAnnouncer

SECONDS = 3.0
ROUNDS = 3

RAW_TABLE = """
CREATE TABLE IF NOT EXISTS raw_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, stream_version bigint NOT NULL,
    event_id uuid NOT NULL, event_type text NOT NULL, schema_version int NOT NULL, occurred_at timestamptz NOT NULL,
    actor text NOT NULL, correlation_id uuid NOT NULL, causation_id uuid, payload jsonb NOT NULL
)"""
RAW_INSERT = (
    "INSERT INTO raw_events (stream_id, stream_version, event_id, event_type, schema_version, occurred_at, actor,"
    " correlation_id, causation_id, payload) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


TEMPLATE = credit(uuid.uuid4(), 1).events[0]


def _writes() -> Iterator[StreamWrite]:
    """Each client appends to its own stream, one credit event per append: the raw insert takes the same rows.

    Building a write costs the same on both sides (a fresh event id, the next version); payloads are prebuilt.
    """
    stream_id = f"account-{uuid.uuid4()}"
    for version in itertools.count():
        yield StreamWrite(stream_id, version, (dataclasses.replace(TEMPLATE, event_id=uuid.uuid4()),))


def _run_clients(clients: int, client: Callable[[float], int]) -> int:
    counts = [0] * clients
    deadline = time.monotonic() + SECONDS

    def run(index: int) -> None:
        counts[index] = client(deadline)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


def raw_rate(dsn: str, clients: int) -> float:
    def client(deadline: float) -> int:
        done = 0
        with psycopg.connect(dsn, autocommit=True) as conn:
            for write in _writes():
                event = write.events[0]
                conn.execute(
                    RAW_INSERT,
                    [
                        write.stream_id,
                        write.expected_version + 1,
                        event.event_id,
                        event.event_type,
                        event.schema_version,
                        event.occurred_at,
                        event.actor,
                        event.correlation_id,
                        event.causation_id,
                        event.payload.decode(),
                    ],
                    prepare=True,
                )
                done += 1
                if time.monotonic() > deadline:
                    break
        return done

    return timed_rate(lambda: _run_clients(clients, client))


CPU_PER_APPEND: dict[str, list[float]] = {}
"""This process's CPU time per append (ms) of each store contender, one figure per round."""


def store_rate(store: PostgresEventStore, clients: int, name: str = "") -> float:
    def client(deadline: float) -> int:
        done = 0
        for write in _writes():
            store.append(AppendRequest((write,)))
            done += 1
            if time.monotonic() > deadline:
                break
        return done

    return _cpu_counted(name, lambda: _run_clients(clients, client))


def _cpu_counted(name: str, work: Callable[[], int]) -> float:
    """The rate of ``work``, noting this process's CPU time per operation under ``name``."""

    def counted() -> int:
        began = time.process_time()
        count = work()
        CPU_PER_APPEND.setdefault(name, []).append((time.process_time() - began) * 1000 / max(count, 1))
        return count

    return timed_rate(counted)


# The append of migration 004, before the verifiable log: identity positions, no hashes (the digests and trace
# contexts are ignored).
UNCHAINED_FUNCTION = """
CREATE OR REPLACE FUNCTION append_events_unchained(
    p_stream_ids text[], p_versions bigint[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
    p_occurred timestamptz[], p_actors text[], p_correlations uuid[], p_causations uuid[], p_payloads jsonb[],
    p_clear_deadlines uuid[], p_deadline_ids uuid[], p_deadline_dues timestamptz[], p_digests bytea[],
    p_trace_contexts text[]
) RETURNS TABLE (r_position bigint, r_stream_id text, r_stream_version bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_current_xact_id();
    RETURN QUERY
    INSERT INTO events (tx_id, stream_id, stream_version, event_id, event_type, schema_version, occurred_at,
                        actor, correlation_id, causation_id, payload)
    SELECT pg_current_xact_id(), e.*
    FROM unnest(p_stream_ids, p_versions, p_event_ids, p_types, p_schema_versions, p_occurred, p_actors,
                p_correlations, p_causations, p_payloads) AS e
    RETURNING events.position, events.stream_id, events.stream_version;
END;
$$"""


# main's append before ADR 0041 (24e2d13): append_events of sql/009 with 15 array parameters.
ARRAYS_APPEND = """
SELECT * FROM append_events(%s::text[], %s::bigint[], %s::uuid[], %s::text[], %s::int[], %s::timestamptz[],
    %s::text[], %s::uuid[], %s::uuid[], %s::jsonb[], %s::uuid[], %s::uuid[], %s::timestamptz[], %s::bytea[], %s::text[])
"""


class ArraysStore(PostgresEventStore):
    """The event store with main's append statement: 15 arrays converted by psycopg (for this comparison only)."""

    append_sql = ARRAYS_APPEND

    def _statement(
        self,
        request: AppendRequest,
        rows: list[tuple[StreamWrite, NewEvent]],
        versions: list[int],
        trace_context: str | None,
    ) -> tuple[str, list[Any]]:
        return self.append_sql, [
            [w.stream_id for w, _ in rows],
            versions,
            [e.event_id for _, e in rows],
            [e.event_type for _, e in rows],
            [e.schema_version for _, e in rows],
            [e.occurred_at for _, e in rows],
            [e.actor for _, e in rows],
            [e.correlation_id for _, e in rows],
            [e.causation_id for _, e in rows],
            [e.payload.decode() for _, e in rows],
            list(request.clear_deadlines),
            [d.transfer_id for d in request.set_deadlines],
            [d.due_at for d in request.set_deadlines],
            self._digests(rows, versions),
            [trace_context] * len(rows),
        ]


class MainStore(ArraysStore):
    """main's store whole: its append and its exclusive block (a BEGIN, then one round trip per stream lock)."""

    @contextmanager
    def exclusive(self, stream_ids: Iterable[str]) -> Iterator[None]:
        keys = stream_lock_keys(stream_ids, self._lock_scope)
        with self._stream_locks.hold(keys), self._pool.connection() as conn, conn.transaction():
            for key in keys:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [key], prepare=True)
            self._held.conn = conn
            self._held.appended = False
            try:
                yield
            finally:
                self._held.conn = None
        if self._held.appended:
            self._announce()


def command_rate(store: PostgresEventStore, clients: int, name: str) -> float:
    """What a command does with the store (ADR 0017): in the stream's exclusive block, read its snapshot and its
    events, then append one event."""

    def client(deadline: float) -> int:
        done = 0
        for write in _writes():
            with store.exclusive([write.stream_id]):
                store.latest_snapshot(write.stream_id)
                store.read_stream(write.stream_id, after_version=max(write.expected_version - 1, 0))
                store.append(AppendRequest((write,)))
            done += 1
            if time.monotonic() > deadline:
                break
        return done

    return _cpu_counted(name, lambda: _run_clients(clients, client))


class UnchainedStore(ArraysStore):
    """The event store as it appended before the verifiable log (for this comparison only)."""

    append_sql = ARRAYS_APPEND.replace("append_events(", "append_events_unchained(")

    @staticmethod
    def _digests(rows: list[tuple[StreamWrite, NewEvent]], versions: list[int]) -> list[bytes]:
        return [b""] * len(rows)


# The contenders, under the names the results are reported with.
RAW_1 = "raw insert+commit, 1 client"
STORE_1 = "event store append, 1 client"
RAW_4 = "raw insert+commit, 4 clients"
STORE_4 = "event store append, 4 clients"
UNCHAINED_1 = "append without the hash chain, 1 client"
UNCHAINED_4 = "append without the hash chain, 4 clients"
MAIN_1 = "main's append (15 arrays), 1 client"
MAIN_4 = "main's append (15 arrays), 4 clients"
COMMAND_4 = "command's store calls (lock, reads, append), 4 clients"
MAIN_COMMAND_4 = "main's command store calls, 4 clients"
ANNOUNCED_4 = "command's store calls with the new-events announcer, 4 clients"


def main() -> None:
    base = Settings.from_env()
    with scratch_database(base) as database:
        dsn = dataclasses.replace(base, pg_database=database).postgres_dsn
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(RAW_TABLE)
        store = PostgresEventStore(dsn, pool_size=8)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(UNCHAINED_FUNCTION)
        unchained = UnchainedStore(dsn, pool_size=8, migrate_schema=False)
        arrays = ArraysStore(dsn, pool_size=8, migrate_schema=False)
        main_store = MainStore(dsn, pool_size=8, migrate_schema=False)
        announcer = PostgresNewEventsAnnouncer(dsn)
        announced = PostgresEventStore(dsn, pool_size=8, migrate_schema=False, announcer=announcer)
        print(f"append benchmark: {SECONDS:.0f} s per run, {ROUNDS} alternated rounds")
        compare(
            "event store appends (one event per append, one stream per client)",
            ROUNDS,
            {
                RAW_1: lambda: raw_rate(dsn, 1),
                STORE_1: lambda: store_rate(store, 1, STORE_1),
                RAW_4: lambda: raw_rate(dsn, 4),
                STORE_4: lambda: store_rate(store, 4, STORE_4),
                UNCHAINED_1: lambda: store_rate(unchained, 1, UNCHAINED_1),
                UNCHAINED_4: lambda: store_rate(unchained, 4, UNCHAINED_4),
                MAIN_1: lambda: store_rate(arrays, 1, MAIN_1),
                MAIN_4: lambda: store_rate(arrays, 4, MAIN_4),
                COMMAND_4: lambda: command_rate(store, 4, COMMAND_4),
                MAIN_COMMAND_4: lambda: command_rate(main_store, 4, MAIN_COMMAND_4),
                ANNOUNCED_4: lambda: command_rate(announced, 4, ANNOUNCED_4),
            },
            [
                (STORE_1, RAW_1, 0.5),
                (STORE_4, RAW_4, 0.5),
                (STORE_4, STORE_1, 1.8),
                (RAW_4, RAW_1, 0.0),
                (MAIN_1, UNCHAINED_1, 0.0),
                (MAIN_4, UNCHAINED_4, 0.0),
                (STORE_1, MAIN_1, 0.0),
                (STORE_4, MAIN_4, 0.0),
                (COMMAND_4, MAIN_COMMAND_4, 0.0),
                (ANNOUNCED_4, COMMAND_4, 0.0),
            ],
        )
        print("\nCPU of this process per append or command (ms; medians of the rounds)")
        for name, figures in CPU_PER_APPEND.items():
            print(f"  {name:48} {statistics.median(figures):.3f}")
        announced.close()
        announcer.close()
        main_store.close()
        arrays.close()
        unchained.close()
        store.close()


if __name__ == "__main__":
    main()
