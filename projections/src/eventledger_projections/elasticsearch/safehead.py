"""A safe head of the event store's log: a position at or below which every event is final.

A rebuild reads the log with the shared :class:`~eventledger_projections.rebuild.source.EventStoreSource`, which
reads ``after < position <= upto`` in order and relies on ``upto`` being settled. The relay's checkpoint is such a
bound, but the Elasticsearch switch needs one more: a bound at or above every event committed before a given moment
(the alias switch), whether or not the relay has checkpointed it yet. This module gives that bound, by the
argument of docs/adr/0005-gap-safe-global-log.md:

read ``M = max(position)``, then draw a fresh transaction id ``h`` (in a transaction rolled back at once), then wait
until the snapshot's ``xmin`` reaches ``h``. Every position below ``M`` was drawn before ``M`` by a transaction that
took its id before drawing it, hence before ``h``; once ``xmin >= h`` all of them have committed or rolled back for
good. So the events at or below ``M`` are final, and ``M`` is at or above every event committed before the call.
"""

from __future__ import annotations

import time

import psycopg


class SafeHead:
    """Callable: answers a safe head of the log in the database (and ``search_path``) of ``dsn``; 0 when empty.

    Waits for transactions older than the call to finish; ``TimeoutError`` after ``wait_timeout`` seconds (a
    transaction somewhere in the cluster is held open: see ADR 0005's consequences)."""

    def __init__(self, dsn: str, *, wait_timeout: float = 60.0) -> None:
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._wait_timeout = wait_timeout

    def __call__(self) -> int:
        row = self._conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
        head = int(row[0]) if row else 0
        with self._conn.transaction(force_rollback=True):
            drawn = self._conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        assert drawn is not None
        horizon = int(drawn[0])
        deadline = time.monotonic() + self._wait_timeout
        pause = 0.002
        while True:
            xmin = self._conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone()
            if xmin is not None and int(xmin[0]) >= horizon:
                return head
            if time.monotonic() > deadline:
                raise TimeoutError(f"transactions below xid {horizon} still run after {self._wait_timeout} s")
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def close(self) -> None:
        self._conn.close()
