"""Helpers for event store tests: builders and an isolated PostgreSQL schema per test."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import orjson
import psycopg

from eventledger_command.eventstore.records import NewEvent, StreamWrite

_counter = itertools.count()


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
