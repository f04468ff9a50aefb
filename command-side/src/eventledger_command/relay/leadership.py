"""Who may publish: one relay leads, the others stand by (docs/adr/0016-relay-leader-election-and-fencing.md).

Leadership is a PostgreSQL session-level advisory lock held on a connection of its own, the way Marten's async daemon
spreads its projections over nodes: PostgreSQL releases the lock the moment the holder's session ends (the process
died, its backend was terminated, its connection was cut and the server's keepalive noticed), and a standby that
polls ``pg_try_advisory_lock`` takes it. The lock alone cannot stop a holder that has not noticed it lost the lock;
the checkpoint's term (``EventLogReader.take_office`` and the fenced ``save_checkpoint``) does.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import psycopg
from psycopg.conninfo import make_conninfo

log = logging.getLogger(__name__)


class Leadership(ABC):
    """The right to lead, held by at most one holder at a time.

    Contract: ``try_acquire`` never waits for another holder; it answers whether the caller holds the leadership now
    (true again when it already held it). ``held`` answers whether the caller still holds it as far as it can tell:
    a false answer is certain, a true one may be stale (a network cut not noticed yet), which is why leaders are
    fenced too. ``release`` gives it up (quietly when it was lost already).
    """

    @abstractmethod
    def try_acquire(self) -> bool: ...

    @abstractmethod
    def held(self) -> bool: ...

    @abstractmethod
    def release(self) -> None: ...

    def close(self) -> None:
        self.release()


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key from ``parts`` (namespace, schema, checkpoint): two deployments sharing a
    PostgreSQL server never contend for one lock."""
    digest = hashlib.blake2b("\x1f".join(("eventledger-leader", *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresAdvisoryLock(Leadership):
    """A session advisory lock on a dedicated connection to ``dsn``, keyed by the namespace, the connection's
    schema and ``name``.

    The connection asks the server to probe the client every few seconds (``tcp_keepalives_*``), so that a leader
    whose machine vanished frees the lock within about ``idle + interval * count`` seconds rather than the kernel's
    two hours; the client probes the server likewise.
    """

    KEEPALIVE: ClassVar[dict[str, int]] = {
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }

    def __init__(self, dsn: str, *, namespace: str, name: str) -> None:
        self._dsn = dsn
        self._namespace = namespace
        self._name = name
        self._conn: psycopg.Connection[Any] | None = None
        self._key: int | None = None
        self._holding = False
        self._guard = threading.Lock()

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend holding (or trying for) the lock, for operators and tests."""
        return self._conn.info.backend_pid if self._conn is not None and not self._conn.closed else None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._discard()
            conninfo = make_conninfo(self._dsn, connect_timeout=5, **self.KEEPALIVE)
            conn = psycopg.connect(conninfo, autocommit=True)
            conn.execute("SET tcp_keepalives_idle = 5")
            conn.execute("SET tcp_keepalives_interval = 2")
            conn.execute("SET tcp_keepalives_count = 3")
            row = conn.execute("SELECT current_schema()").fetchone()
            self._key = lock_key(self._namespace, str(row[0]) if row else "", self._name)
            self._conn = conn
        return self._conn

    def try_acquire(self) -> bool:
        with self._guard:
            if self._holding and self._alive():
                return True
            self._holding = False
            conn = self._connection()
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", [self._key]).fetchone()
            self._holding = bool(row and row[0])
            return self._holding

    def held(self) -> bool:
        with self._guard:
            if not self._holding:
                return False
            if not self._alive():
                self._holding = False
            return self._holding

    def _alive(self) -> bool:
        """One round trip on the lock's session: if it fails, the session (and with it the lock) is gone."""
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            return False
        try:
            conn.execute("SELECT 1")
        except psycopg.Error as exc:
            log.warning("the leadership's session is gone: %s", exc)
            self._discard()
            return False
        return True

    def release(self) -> None:
        with self._guard:
            if self._holding and self._conn is not None and not self._conn.closed and not self._conn.broken:
                try:
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", [self._key])
                except psycopg.Error:
                    self._discard()  # the session is gone, and the lock with it
            self._holding = False

    def close(self) -> None:
        self.release()
        with self._guard:
            self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
        self._holding = False


class InMemoryLockTable:
    """One lock shared by the :class:`InMemoryLeadership` holders of a process: for unit tests of the relay loop."""

    def __init__(self) -> None:
        self.holder: InMemoryLeadership | None = None
        self._lock = threading.Lock()

    def take(self, candidate: InMemoryLeadership) -> bool:
        with self._lock:
            if self.holder is None:
                self.holder = candidate
            return self.holder is candidate

    def free(self, holder: InMemoryLeadership) -> None:
        with self._lock:
            if self.holder is holder:
                self.holder = None


class InMemoryLeadership(Leadership):
    """A holder of an :class:`InMemoryLockTable`. ``lose(noticed=False)`` frees the lock behind the holder's back, as
    a cut connection does before anything notices; ``noticed=True`` as a terminated session does."""

    def __init__(self, table: InMemoryLockTable) -> None:
        self._table = table
        self._believes = False

    def try_acquire(self) -> bool:
        self._believes = self._table.take(self)
        return self._believes

    def held(self) -> bool:
        return self._believes

    def release(self) -> None:
        self._table.free(self)
        self._believes = False

    def lose(self, *, noticed: bool) -> None:
        self._table.free(self)
        if noticed:
            self._believes = False
