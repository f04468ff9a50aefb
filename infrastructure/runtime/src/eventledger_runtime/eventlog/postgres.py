"""The event-log reader over the event store's tables in PostgreSQL (``events`` and ``log_checkpoints``, defined by
the command side's migrations: command-side/.../eventstore/sql/).

Why the tail read and the safe head are sound (docs/adr/0005-gap-safe-global-log.md): each append takes its
transaction id (``pg_current_xact_id()``) before it draws any position. A reader that sees position ``p`` while an
earlier position ``g`` is missing knows that ``g``'s owner already had its id when ``p`` was committed; so the owner's
id is below a fresh id ``h`` the reader draws right after (in a transaction it rolls back). Once a later snapshot's
``xmin`` has reached ``h``, the owner has finished: if ``g`` is still missing it was rolled back, otherwise it is
visible. The tail read applies this at the first hole it meets; the safe head applies it to ``max(position)``.
(A snapshot's ``xmax`` is no such bound: since PostgreSQL 14 it is one past the latest *completed* xid, and a
running transaction may hold a larger one.)
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from eventledger_runtime.eventlog.port import Deposed, EventLogReader
from eventledger_runtime.eventlog.records import LoggedEvent

LOGGED_EVENT_COLUMNS = (
    "position, stream_id, stream_version, event_id, event_type, schema_version, occurred_at, recorded_at, "
    "actor, correlation_id, causation_id, payload::text, event_hash, trace_context"
)
"""The columns of ``events`` in the order of :class:`LoggedEvent`'s fields: ``LoggedEvent._make(row)`` reads a row."""
_TAIL = f"""
SELECT {LOGGED_EVENT_COLUMNS}, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin
FROM events WHERE position > %s ORDER BY position LIMIT %s
"""
_RANGE = f"SELECT {LOGGED_EVENT_COLUMNS} FROM events WHERE position > %s AND position <= %s ORDER BY position LIMIT %s"
_RANGE_OF_TYPES = (
    f"SELECT {LOGGED_EVENT_COLUMNS} FROM events WHERE position > %s AND position <= %s AND event_type = ANY(%s)"
    " ORDER BY position LIMIT %s"
)
_XMIN = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


class PostgresEventLogReader(EventLogReader):
    """Reads the log in the database (and ``search_path``) of ``dsn``, or over a pool its owner lends.

    The pool holds ``pool_size`` connections (a rebuild reads pages in a thread while it asks for the safe head).
    A lent pool is left open by :meth:`close`.
    """

    def __init__(
        self, dsn: str | None = None, *, pool: ConnectionPool | None = None, pool_size: int = 2, name: str = "event-log"
    ) -> None:
        if pool is not None:
            if dsn is not None:
                raise ValueError("give the reader a dsn or a pool, not both")
            self._pool, self._owns_pool = pool, False
        elif dsn is not None:
            self._pool = ConnectionPool(
                dsn, min_size=1, max_size=pool_size, open=True, kwargs={"autocommit": True}, name=name
            )
            self._owns_pool = True
        else:
            raise ValueError("give the reader a dsn or a pool")

    @property
    def dsn(self) -> str:
        """The connection string of the database read (its personal-data keys live there too)."""
        conninfo = self._pool.conninfo
        return conninfo() if callable(conninfo) else conninfo

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    # ------------------------------------------------------------------ events
    def read(self, after: int = 0, *, limit: int = 1000, wait: float = 1.0) -> list[LoggedEvent]:
        deadline = time.monotonic() + wait
        horizons: dict[int, int] = {}  # first missing position -> an xid above every xid assigned when it was seen
        out: list[LoggedEvent] = []
        cursor = after
        pause = 0.002
        with self._pool.connection() as conn:
            while len(out) < limit:
                rows = conn.execute(_TAIL, [cursor, limit - len(out)], prepare=True).fetchall()
                blocked = False
                for row in rows:
                    position, xmin = row[0], int(row[-1])
                    if position != cursor + 1:
                        horizon = horizons.get(cursor + 1)
                        if horizon is None and not out:
                            horizons[cursor + 1] = _next_xid(conn)
                        if horizon is None or xmin < horizon:
                            blocked = True  # the hole's owner may still commit: never step over it
                            break
                    out.append(LoggedEvent._make(row[:-1]))
                    cursor = position
                if not blocked or out or time.monotonic() >= deadline:
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        return out

    def read_range(
        self, after: int, upto: int, *, limit: int, event_types: Collection[str] | None = None
    ) -> list[LoggedEvent]:
        with self._pool.connection() as conn:
            if event_types is None:
                rows = conn.execute(_RANGE, [after, upto, limit], prepare=True).fetchall()
            else:
                rows = conn.execute(_RANGE_OF_TYPES, [after, upto, list(event_types), limit], prepare=True).fetchall()
        return [LoggedEvent._make(row) for row in rows]

    def count(self, after: int, upto: int, *, event_types: Collection[str] | None = None) -> int:
        with self._pool.connection() as conn:
            if event_types is None:
                row = conn.execute("SELECT count(*) FROM events WHERE position > %s AND position <= %s", [after, upto])
            else:
                row = conn.execute(
                    "SELECT count(*) FROM events WHERE position > %s AND position <= %s AND event_type = ANY(%s)",
                    [after, upto, list(event_types)],
                )
            found = row.fetchone()
        return int(found[0]) if found else 0

    # ------------------------------------------------------------------ heads
    def head_position(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
        return int(row[0]) if row else 0

    def safe_head(self, *, timeout: float = 60.0) -> int:
        """``M = max(position)``, then a fresh xid ``h``, then wait until ``xmin >= h``: every position below ``M``
        was drawn by a transaction that took its id before ``h``, so once ``xmin >= h`` all are decided."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            head = int(row[0]) if row else 0
            horizon = _next_xid(conn)
            deadline = time.monotonic() + timeout
            pause = 0.002
            while True:
                xmin = conn.execute(_XMIN).fetchone()
                if xmin is not None and int(xmin[0]) >= horizon:
                    return head
                if time.monotonic() > deadline:
                    raise TimeoutError(f"transactions below xid {horizon} still run after {timeout} s")
                time.sleep(pause)
                pause = min(pause * 2, 0.1)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, name: str) -> int:
        with self._pool.connection() as conn:
            try:
                row = conn.execute("SELECT position FROM log_checkpoints WHERE name = %s", [name]).fetchone()
            except pg_errors.UndefinedTable:  # the event store was never migrated here: nothing was saved
                return 0
        return int(row[0]) if row else 0

    def save_checkpoint(self, name: str, position: int, *, term: int | None = None) -> None:
        with self._pool.connection() as conn:
            if term is not None:
                # The fence and the write are one statement: a leader that took office meanwhile holds the row's
                # lock or has committed a higher term, and either way this matches no row.
                moved = conn.execute(
                    "UPDATE log_checkpoints SET position = greatest(position, %s), updated_at = statement_timestamp()"
                    " WHERE name = %s AND term = %s",
                    [position, name, term],
                ).rowcount
                if moved != 1:
                    raise Deposed(name, term)
                return
            conn.execute(
                "INSERT INTO log_checkpoints (name, position) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = statement_timestamp()"
                " WHERE log_checkpoints.position < excluded.position",
                [name, position],
            )

    def take_office(self, name: str) -> tuple[int, int]:
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO log_checkpoints (name, position, term) VALUES (%s, 0, 1)"
                " ON CONFLICT (name) DO UPDATE SET term = log_checkpoints.term + 1, updated_at = statement_timestamp()"
                " RETURNING term, position",
                [name],
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def rewind_checkpoint(self, name: str, position: int = 0) -> int:
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute("SELECT position FROM log_checkpoints WHERE name = %s FOR UPDATE", [name]).fetchone()
            conn.execute(
                "INSERT INTO log_checkpoints (name, position, term) VALUES (%s, %s, 1)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position, term = log_checkpoints.term + 1,"
                " updated_at = statement_timestamp()",
                [name, position],
            )
        return int(row[0]) if row else 0


def _next_xid(conn: psycopg.Connection[Any]) -> int:
    """An xid above every xid assigned so far: one drawn now, in a transaction rolled back at once."""
    with conn.transaction(force_rollback=True):
        row = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
    assert row is not None
    return int(row[0])
