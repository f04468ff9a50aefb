"""The relay's checkpoint, read from the event store's database: every event at or below it is in Kafka."""

from __future__ import annotations

from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

RELAY_CHECKPOINT = "kafka-relay"


class PostgresRelayCheckpoint:
    """Reads ``log_checkpoints`` (written by the relay only after the broker acknowledged a batch).

    Callable: the runner calls it before reading high watermarks, to claim positions (ADR 0007). Answers 0 while
    the event store has no such table or row.
    """

    def __init__(self, dsn: str, name: str = RELAY_CHECKPOINT) -> None:
        self._name = name
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=1, open=True, kwargs={"autocommit": True}, name="relay-checkpoint"
        )

    def __call__(self) -> int:
        with self._pool.connection() as conn:
            try:
                row = conn.execute("SELECT position FROM log_checkpoints WHERE name = %s", [self._name]).fetchone()
            except pg_errors.UndefinedTable:
                return 0
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._pool.close()
