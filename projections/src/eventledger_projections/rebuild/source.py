"""The event store as a rebuild reads it: the ``events`` table, by position, up to a settled bound.

The projections package never imports the write side; it reads the table its migrations define
(command-side/.../eventstore/sql/001_events.sql). Only positions up to a *settled* bound are read: the relay's
checkpoint, or a position already published to Kafka. The relay reads the log gap-safe (ADR 0005), so every position
at or below such a bound is decided: a missing one was rolled back and never appears. Reading ``position <= bound``
in order therefore skips nothing, without the transaction-id rule.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool

from eventledger_events import EventEnvelope, payload_from_json
from eventledger_projections.runtime.relay_checkpoint import RELAY_CHECKPOINT

_READ = """
SELECT position, stream_id, stream_version, event_id, event_type, schema_version, occurred_at, recorded_at, actor,
       correlation_id, causation_id, payload::text
FROM events WHERE position > %s AND position <= %s ORDER BY position LIMIT %s
"""


class EventStoreSource:
    def __init__(self, dsn: str, *, relay_checkpoint: str = RELAY_CHECKPOINT) -> None:
        self._checkpoint = relay_checkpoint
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=1, open=True, kwargs={"autocommit": True}, name="rebuild-source"
        )

    def relay_position(self) -> int:
        """Every event at or below this position is decided and published (0 when the relay never ran)."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT position FROM log_checkpoints WHERE name = %s", [self._checkpoint]).fetchone()
        return int(row[0]) if row else 0

    def count(self, after: int, upto: int) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM events WHERE position > %s AND position <= %s", [after, upto])
            found = row.fetchone()
        return int(found[0]) if found else 0

    def read(self, after: int, upto: int, limit: int) -> list[EventEnvelope]:
        """Up to ``limit`` events with ``after < position <= upto``, in position order, upcast to current versions."""
        with self._pool.connection() as conn:
            rows = conn.execute(_READ, [after, upto, limit], prepare=True).fetchall()
        return [_envelope(row) for row in rows]

    def close(self) -> None:
        self._pool.close()


def _envelope(row: tuple[Any, ...]) -> EventEnvelope:
    payload = payload_from_json(row[4], row[5], row[11])
    return EventEnvelope(
        event_id=row[3],
        event_type=payload.EVENT_TYPE,
        schema_version=payload.SCHEMA_VERSION,
        stream_id=row[1],
        stream_version=row[2],
        position=row[0],
        occurred_at=row[6],
        recorded_at=row[7],
        actor=row[8],
        correlation_id=row[9],
        causation_id=row[10],
        payload=payload,
    )
