"""PRODUCT.md §6 items 1 and 2: event-store append rate against a raw psycopg insert+commit of the same payload,
at 1 and 4 clients, and 4 writers on distinct streams against 1 writer.

Run with the servers up: ``make up && .venv/bin/python -m bench.bench_event_store``.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import psycopg
from tests.support.ledger import credit

from bench._common import compare, scratch_database, timed_rate
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest, StreamWrite
from eventledger_infra.settings import Settings

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


def store_rate(store: PostgresEventStore, clients: int) -> float:
    def client(deadline: float) -> int:
        done = 0
        for write in _writes():
            store.append(AppendRequest((write,)))
            done += 1
            if time.monotonic() > deadline:
                break
        return done

    return timed_rate(lambda: _run_clients(clients, client))


# The contenders, under the names the results are reported with.
RAW_1 = "raw insert+commit, 1 client"
STORE_1 = "event store append, 1 client"
RAW_4 = "raw insert+commit, 4 clients"
STORE_4 = "event store append, 4 clients"


def main() -> None:
    base = Settings.from_env()
    with scratch_database(base) as database:
        dsn = dataclasses.replace(base, pg_database=database).postgres_dsn
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(RAW_TABLE)
        store = PostgresEventStore(dsn, pool_size=8)
        print(f"append benchmark: {SECONDS:.0f} s per run, {ROUNDS} alternated rounds")
        compare(
            "event store appends (one event per append, one stream per client)",
            ROUNDS,
            {
                RAW_1: lambda: raw_rate(dsn, 1),
                STORE_1: lambda: store_rate(store, 1),
                RAW_4: lambda: raw_rate(dsn, 4),
                STORE_4: lambda: store_rate(store, 4),
            },
            [(STORE_1, RAW_1, 0.5), (STORE_4, RAW_4, 0.5), (STORE_4, STORE_1, 1.8), (RAW_4, RAW_1, 0.0)],
        )
        store.close()


if __name__ == "__main__":
    main()
