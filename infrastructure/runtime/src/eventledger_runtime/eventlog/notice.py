"""New-events notices: the writers of the log wake its tailing readers instead of letting them poll.

A notice is a hint, never the truth. A woken reader reads the log as always (the gap rule decides what is safe to
read), and a reader that missed a notice (a connection lost, a notifier down) still reads at its fallback interval.
So a notice may come late, be coalesced with others or be lost: it changes when a reader looks, never what it sees.

In PostgreSQL the notice is ``NOTIFY`` on a channel named after the database schema the log lives in. It is sent by
a notifier thread on a connection of its own, after the append committed, and never inside the append: a
transaction that notifies holds a database-wide lock from its commit on until it ends, which would serialise every
append's commit (docs/adr/0021-push-visibility.md). Announcements made while a notice is on its way, or within
``NOTICE_GAP_SECONDS`` after it, make one more.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "eventledger.log."
RECONNECT_SECONDS = 1.0
NOTICE_GAP_SECONDS = 0.002
"""At least this long between two notices of one announcer: under load the announcements of 2 ms make one notice
(the relay is busy then and reads everything committed anyway); an idle system's first append is noticed at once."""


class NewEventsAnnouncer(ABC):
    """The writer's side: say that events were committed."""

    @abstractmethod
    def announce(self) -> None:
        """Call after a commit that appended events. Never blocks on I/O and never raises; announcements that come
        while a notice is being sent make one more notice, not one each."""

    @abstractmethod
    def close(self) -> None:
        """Stop sending notices; announcements after this are ignored."""


class NewEventsListener(ABC):
    """The tailing reader's side: wait for a notice instead of sleeping a fixed time."""

    @abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block until a notice arrives or ``timeout`` seconds pass; True when a notice arrived. Notices that arrived
        since the last call count (none is lost between a read that found nothing and this wait), and all of them
        are consumed by one call. A listener whose connection is lost waits out ``timeout`` and reconnects."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""


class InMemoryNewEvents(NewEventsAnnouncer, NewEventsListener):
    """Both sides in one process (unit tests, the in-memory store)."""

    def __init__(self) -> None:
        self._announced = threading.Event()

    def announce(self) -> None:
        self._announced.set()

    def wait(self, timeout: float) -> bool:
        arrived = self._announced.wait(timeout)
        self._announced.clear()
        return arrived

    def close(self) -> None:
        self._announced.set()


def _channel(conn: psycopg.Connection[Any], prefix: str = CHANNEL_PREFIX) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    return prefix + str(row[0] if row else "public")


class NotifierThread(ABC):
    """Sends ``NOTIFY`` from a thread of its own, on its own autocommit connection to ``dsn``: each :meth:`_wake`
    makes one :meth:`_notify` (wakes that come meanwhile make one more, not one each); a lost connection is opened
    again ``RECONNECT_SECONDS`` later. Callers never wait and never see an error (``failure`` is logged)."""

    def __init__(self, dsn: str, *, thread_name: str, channel_prefix: str, failure: str) -> None:
        self._dsn = dsn
        self._channel_prefix = channel_prefix
        self._failure = failure
        self._pending = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    @abstractmethod
    def _notify(self, conn: psycopg.Connection[Any], channel: str) -> None:
        """Send this notifier's notice on ``conn``; a :class:`psycopg.Error` drops the connection."""

    def close(self) -> None:
        self._closed.set()
        self._pending.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        channel = ""
        try:
            while True:
                self._pending.wait()
                if self._closed.is_set():
                    return
                self._pending.clear()
                try:
                    if conn is None:
                        conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
                        channel = _channel(conn, self._channel_prefix)
                    self._notify(conn, channel)
                except psycopg.Error as error:
                    log.warning("%s: %s", self._failure, error)
                    if conn is not None:
                        conn.close()
                    conn = None
                    self._closed.wait(RECONNECT_SECONDS)
        finally:
            if conn is not None:
                conn.close()


class PostgresNewEventsAnnouncer(NotifierThread, NewEventsAnnouncer):
    """Sends ``NOTIFY`` from a thread of its own, on its own autocommit connection to ``dsn``."""

    def __init__(self, dsn: str) -> None:
        self.sent = 0
        super().__init__(
            dsn,
            thread_name="new-events-announcer",
            channel_prefix=CHANNEL_PREFIX,
            # Readers fall back to polling meanwhile; the next announcement after the pause tries again.
            failure="cannot notify the log's readers (they poll meanwhile)",
        )

    def announce(self) -> None:
        self._pending.set()

    def close(self) -> None:
        NotifierThread.close(self)

    def _notify(self, conn: psycopg.Connection[Any], channel: str) -> None:
        conn.execute("SELECT pg_notify(%s, '')", [channel], prepare=True)
        self.sent += 1
        self._closed.wait(NOTICE_GAP_SECONDS)


class PostgresNewEventsListener(NewEventsListener):
    """``LISTEN`` on its own autocommit connection to ``dsn``, opened at once (so no notice after the constructor
    returns is missed) and again after it was lost."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None
        try:
            self._connect()
        except psycopg.Error as error:
            log.warning("cannot listen for new-events notices yet (polling meanwhile): %s", error)

    def _connect(self) -> None:
        conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(_channel(conn))))
        self._conn = conn

    def wait(self, timeout: float) -> bool:
        try:
            if self._conn is None:
                self._connect()
            assert self._conn is not None
            arrived = False
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                arrived = True
            if arrived:  # take the notices that came with it, so that the next wait waits for a new one
                for _ in self._conn.notifies(timeout=0):
                    pass
            return arrived
        except psycopg.Error as error:
            log.warning("lost the new-events notices (polling meanwhile): %s", error)
            self.close()
            threading.Event().wait(timeout)
            return False

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
