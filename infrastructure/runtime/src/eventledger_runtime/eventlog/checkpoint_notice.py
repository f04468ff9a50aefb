"""The relay's checkpoint, pushed to the projectors as soon as Kafka acknowledged a batch (ADR 0037).

A projector claims a position P for its read model only once the relay says every event at or below P is in Kafka
(ADR 0007). The relay says so durably by saving its checkpoint, a PostgreSQL commit that waits for the WAL flush;
on a loaded machine that commit is a third of the time from a command's own commit to its event being published.
The relay also knows it earlier, the moment the broker acknowledged the batch: it then sends ``NOTIFY`` with the
position (on a connection of its own, from a thread of its own, so that it never waits), and the projectors take
the higher of the last notice and the saved checkpoint.

A notice is safe to believe early: it is sent only after the broker acknowledged every event up to its position,
which is all the claim needs (the saved checkpoint is what a relay resumes from, which notices never change). A
lost or late notice only delays a claim to the saved checkpoint, as before. The channel is named after the database
schema of the log and carries ``<checkpoint name>:<position>``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Protocol

import psycopg
from psycopg import sql

from eventledger_runtime.eventlog.notice import NotifierThread

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "eventledger.checkpoint."
RECONNECT_SECONDS = 1.0


def _channel(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    return CHANNEL_PREFIX + str(row[0] if row else "public")


class CheckpointAnnouncer(Protocol):
    """What the relay announces to: ``announce`` never blocks and never raises."""

    def announce(self, name: str, position: int) -> None: ...


class PostgresCheckpointAnnouncer(NotifierThread):
    """The relay's side: ``announce(name, position)`` never blocks; a thread sends the latest position of each
    checkpoint (announcements made meanwhile are coalesced into one notice)."""

    def __init__(self, dsn: str) -> None:
        self._latest: dict[str, int] = {}
        self._sent: dict[str, int] = {}
        self._lock = threading.Lock()
        super().__init__(
            dsn,
            thread_name="checkpoint-announcer",
            channel_prefix=CHANNEL_PREFIX,
            # Projectors read the saved checkpoint meanwhile; the next announcement tries again.
            failure="cannot announce the relay's checkpoint (projectors read it saved)",
        )

    def announce(self, name: str, position: int) -> None:
        """Say that Kafka acknowledged every event up to ``position`` (published under checkpoint ``name``)."""
        with self._lock:
            if position > self._latest.get(name, 0):
                self._latest[name] = position
        self._pending.set()

    def _notify(self, conn: psycopg.Connection[Any], channel: str) -> None:
        with self._lock:
            due = {n: p for n, p in self._latest.items() if p > self._sent.get(n, 0)}
        for name, position in due.items():
            conn.execute("SELECT pg_notify(%s, %s)", [channel, f"{name}:{position}"], prepare=True)
            self._sent[name] = position


class PostgresCheckpointListener:
    """A projector's side: ``LISTEN`` on a connection of its own, in a thread of its own (opened at once, and again
    after it was lost); :meth:`latest` is the highest position announced for a checkpoint (0 before any), and
    :meth:`wait_for` waits for an announcement to reach a position (ADR 0040)."""

    def __init__(self, dsn: str, name: str) -> None:
        self._dsn = dsn
        self._name = name
        self._prefix = f"{name}:"
        self._latest = 0
        self._announced = threading.Condition()
        self._closed = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        with contextlib.suppress(psycopg.Error):  # the thread retries; the saved checkpoint serves meanwhile
            self._connect()
        self._thread = threading.Thread(target=self._run, name="checkpoint-listener", daemon=True)
        self._thread.start()

    def latest(self) -> int:
        return self._latest

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for an announcement of ``position`` or later; True when there was one
        (at once when it came already). A caught-up projector claims when the relay says so instead of polling."""
        with self._announced:
            return self._announced.wait_for(lambda: self._latest >= position, timeout)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect(self) -> None:
        conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(_channel(conn))))
        self._conn = conn

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                if self._conn is None:
                    self._connect()
                assert self._conn is not None
                for notice in self._conn.notifies(timeout=0.5):
                    if notice.payload.startswith(self._prefix):
                        position = notice.payload[len(self._prefix) :]
                        if position.isdecimal():
                            with self._announced:
                                self._latest = max(self._latest, int(position))
                                self._announced.notify_all()
            except psycopg.Error as error:
                if self._closed.is_set():
                    return
                log.warning("lost the relay's checkpoint notices (reading it saved meanwhile): %s", error)
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                self._closed.wait(RECONNECT_SECONDS)
