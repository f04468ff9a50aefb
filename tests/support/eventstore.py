"""Helpers for event store tests: builders, an isolated PostgreSQL schema per test, a tailer racing writers."""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import orjson
import psycopg

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import NewEvent, RecordedEvent, StreamWrite
from eventledger_events.audit.hashing import GENESIS_HASH, content_digest, event_hash, to_micros

_counter = itertools.count()


class _Positioned(Protocol):
    @property
    def position(self) -> int: ...


Logged = TypeVar("Logged", bound=_Positioned)


def tail_while_writing(
    read_after: Callable[[int], Sequence[Logged]], writer: Callable[[int], None], writers: int
) -> list[Logged]:
    """Run ``writer(0)`` .. ``writer(writers - 1)`` in threads while one thread tails the log with ``read_after``
    (a waiting read of the events after a position); answer what the tailer saw, in order, once the writers are done
    and a read comes back empty. An error in any thread fails the test."""
    done = threading.Event()
    seen: list[Logged] = []
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    def tailer() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            batch = read_after(cursor)
            seen.extend(batch)
            if batch:
                cursor = batch[-1].position
            elif finished:
                return

    reader = threading.Thread(target=guarded, args=(tailer,))
    reader.start()
    threads = [threading.Thread(target=guarded, args=(lambda n=n: writer(n),)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.05)
    done.set()
    reader.join(timeout=60)
    assert not errors, errors
    return seen


def new_event(event_type: str = "test.happened", **payload: object) -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        occurred_at=datetime.now(UTC),
        actor="tester",
        correlation_id=uuid.uuid4(),
        causation_id=None,
        payload=orjson.dumps({"n": next(_counter), **payload}),
    )


def write(stream_id: str, expected_version: int, count: int = 1) -> StreamWrite:
    return StreamWrite(stream_id, expected_version, tuple(new_event() for _ in range(count)))


def expected_event_hash(event: RecordedEvent, previous: bytes | None) -> bytes:
    """The hash ``event`` must carry by the published formula (ADR 0025), chained to ``previous`` (None: the
    stream's first event)."""
    digest = content_digest(
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        event_id=event.event_id,
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=event.occurred_at,
        actor=event.actor,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        payload=orjson.loads(event.payload),
    )
    return event_hash(digest, event.position, to_micros(event.recorded_at), previous or GENESIS_HASH)


@contextlib.contextmanager
def isolated_schema(dsn: str, prefix: str = "t") -> Iterator[str]:
    """A fresh schema; yields a DSN whose search_path points at it. Dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _jitter(conn: psycopg.Connection[Any]) -> None:
    """Hold each transaction open a random moment before commit, so commits come out of position order."""
    conn.execute("SELECT pg_sleep(%s)", [random.random() * 0.01])


@contextlib.contextmanager
def out_of_order_store(postgres_dsn: str) -> Iterator[tuple[PostgresEventStore, str]]:
    """What the contract suites run the PostgreSQL backend on: an event store in a schema of its own whose appends
    commit out of position order (each holds its transaction open a random moment). Yields it and its DSN; closed
    and dropped afterwards."""
    with isolated_schema(postgres_dsn) as dsn:
        store = PostgresEventStore(dsn, pool_size=12, before_commit=_jitter)
        try:
            yield store, dsn
        finally:
            store.close()
