"""Where a reader of the global log has got to. Moved only after the work up to that position is done."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from psycopg_pool import ConnectionPool


class Checkpoints(ABC):
    """Named positions in the global log.

    Contract: ``load`` returns the last position saved under ``name`` (0 if none); ``save`` is durable when it
    returns and never moves a checkpoint backwards.
    """

    @abstractmethod
    def load(self, name: str) -> int: ...

    @abstractmethod
    def save(self, name: str, position: int) -> None: ...


class InMemoryCheckpoints(Checkpoints):
    def __init__(self) -> None:
        self._positions: dict[str, int] = {}
        self._lock = threading.Lock()

    def load(self, name: str) -> int:
        with self._lock:
            return self._positions.get(name, 0)

    def save(self, name: str, position: int) -> None:
        with self._lock:
            self._positions[name] = max(position, self._positions.get(name, 0))


class PostgresCheckpoints(Checkpoints):
    """Checkpoints in the event store's database (table ``log_checkpoints``, created by its migrations)."""

    def __init__(self, dsn: str) -> None:
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=2, open=True, kwargs={"autocommit": True}, name="checkpoints"
        )

    def close(self) -> None:
        self._pool.close()

    def load(self, name: str) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT position FROM log_checkpoints WHERE name = %s", [name]).fetchone()
        return int(row[0]) if row else 0

    def save(self, name: str, position: int) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO log_checkpoints (name, position) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = statement_timestamp()"
                " WHERE log_checkpoints.position < excluded.position",
                [name, position],
            )
