"""PostgreSQL event store: optimistic concurrency by a unique (stream, version), a gap-safe global log without any
table lock, idempotency answers and deadlines in the same transaction as the events.

Why the log is gap-safe: each append takes its transaction id (``pg_current_xact_id()``) before it draws any
position (``append_events`` in sql/004). The global log is read by the runtime kit's
:class:`~eventledger_runtime.eventlog.PostgresEventLogReader` over this store's pool, which relies on that order to
never step over an undecided position; so readers see every event once, in position order, while writers on
different streams never wait for each other. See docs/adr/0005-gap-safe-global-log.md.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from eventledger_command.eventstore.chain import chained, digest_of
from eventledger_command.eventstore.errors import ConcurrencyConflict, IdempotencyKeyTaken
from eventledger_command.eventstore.locks import StreamLocks, stream_lock_keys
from eventledger_command.eventstore.port import DEFAULT_DEADLINE_LEASE, EventStore, Responder
from eventledger_command.eventstore.records import (
    AppendRequest,
    AppendResult,
    IdempotencyClaim,
    NewEvent,
    RecordedEvent,
    Snapshot,
    StoredIdempotency,
    StoredResponse,
    StreamWrite,
)
from eventledger_command.eventstore.telemetry import append_span, note_result
from eventledger_runtime import tracing
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.eventlog.notice import NewEventsAnnouncer
from eventledger_runtime.eventlog.postgres import LOGGED_EVENT_COLUMNS
from eventledger_runtime.migrations import migrate

_APPEND = "SELECT * FROM append_events_document(%s::jsonb)"
"""The append in one parameter, the document of sql/010 (ADR 0041)."""

_APPEND_RECORDED_AT = "SELECT * FROM append_events_document(%s::jsonb, %s::timestamptz)"
"""The append with the recording time given (a recording clock; sql/008, sql/010)."""

_CLAIM_DEADLINES = """
UPDATE transfer_deadlines AS d SET claimed_until = %(until)s
FROM (
    SELECT transfer_id FROM transfer_deadlines
    WHERE due_at <= %(now)s AND (claimed_until IS NULL OR claimed_until <= %(now)s)
    ORDER BY due_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
) AS due
WHERE d.transfer_id = due.transfer_id
RETURNING d.transfer_id, d.due_at
"""

_CONFLICT_DETAIL = re.compile(r"Key \(stream_id, stream_version\)=\((?P<stream>.+), (?P<version>\d+)\) already exists")


_UNHASHED = f"SELECT {LOGGED_EVENT_COLUMNS} FROM events WHERE event_hash IS NULL ORDER BY stream_id, stream_version"


def hash_older_events(conn: psycopg.Connection[Any]) -> int:
    """Give the events recorded before the verifiable log (migration 007) their chain hashes, once: every stream of
    theirs from version 1 (later events of such a stream cannot exist: the append refuses to chain to an unhashed
    event). Runs under the migrations' lock with the append-only trigger off for this transaction only; answers how
    many events it hashed."""
    if conn.execute("SELECT 1 FROM events WHERE event_hash IS NULL LIMIT 1").fetchone() is None:
        return 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('eventledger-hash-older-events'))")
        conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        previous: dict[str, bytes] = {}
        rows = [RecordedEvent._make(row) for row in conn.execute(_UNHASHED).fetchall()]
        for event in rows:
            digest = digest_of(event.stream_id, event.stream_version, _as_new(event))
            link = chained(
                digest, position=event.position, recorded_at=event.recorded_at, previous=previous.get(event.stream_id)
            )
            previous[event.stream_id] = link
            conn.execute("UPDATE events SET event_hash = %s WHERE position = %s", [link, event.position])
        conn.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
    return len(rows)


def begin_and_lock(keys: list[int]) -> bytes:
    """One simple-protocol query that opens a transaction and takes the advisory locks of ``keys`` in their order:
    a transaction block and its locks in one round trip instead of one each (the keys are integers we computed, so
    they are written as literals; a query with parameters could not hold two statements)."""
    return b"BEGIN;" + b"".join(b"SELECT pg_advisory_xact_lock(%d);" % int(key) for key in keys)


def _as_new(event: RecordedEvent) -> NewEvent:
    return NewEvent(
        event.event_id,
        event.event_type,
        event.schema_version,
        event.occurred_at,
        event.actor,
        event.correlation_id,
        event.causation_id,
        event.payload.encode(),
    )


class PostgresEventStore(EventStore):
    append_sql: ClassVar[str] = _APPEND
    """The append statement (``append_events_document`` of sql/010); the append benchmark measures variants."""
    append_recorded_at_sql: ClassVar[str] = _APPEND_RECORDED_AT

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 10,
        migrate_schema: bool = True,
        before_commit: Callable[[psycopg.Connection[Any]], None] | None = None,
        announcer: NewEventsAnnouncer | None = None,
        recording_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``before_commit`` runs inside each append's transaction just before it commits: a seam for tests that
        need transactions to commit out of position order. Production leaves it None (one round trip per append).
        ``announcer`` is told after each committed append, so that the relay wakes at once instead of polling.
        ``recording_clock`` gives each append's ``recorded_at`` instead of the database's statement time: a seam
        for tests of the bitemporal audit that must record an entry "on April 5" (ADR 0034); production leaves it
        None.
        """
        self.dsn = dsn
        """The database (and ``search_path``) of the store: the personal-data keys live beside it."""
        self._before_commit = before_commit
        self._recording_clock = recording_clock
        self._announcer = announcer
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, open=True, kwargs={"autocommit": True}, name="event-store"
        )
        if migrate_schema:
            with self._pool.connection() as conn:
                migrate(conn, "event-store", "eventledger_command.eventstore")
                hash_older_events(conn)
        with self._pool.connection() as conn:
            row = conn.execute("SELECT current_schema()").fetchone()
        self._lock_scope = str(row[0]) if row else ""
        self._log = PostgresEventLogReader(pool=self._pool)
        self._stream_locks = StreamLocks()
        self._held = threading.local()

    @property
    def pool(self) -> ConnectionPool:
        """The store's autocommit connections, lent to what lives in its database (the personal-data keys)."""
        return self._pool

    def close(self) -> None:
        self._pool.close()

    # ------------------------------------------------------------------ per-stream exclusion
    @contextmanager
    def exclusive(self, stream_ids: Iterable[str]) -> Iterator[None]:
        """In-process locks first (waiters hold no connection), then one transaction that takes the streams'
        transaction-level advisory locks in ascending key order (other replicas). Every store call of this thread
        inside the block runs in that transaction; its commit at the end publishes the append and frees the locks.

        The transaction's start and its locks are one round trip (:func:`begin_and_lock`, ADR 0041).
        """
        keys = stream_lock_keys(stream_ids, self._lock_scope)
        if getattr(self._held, "conn", None) is not None:
            raise RuntimeError("exclusive() does not nest: take every stream's lock at once")
        with self._stream_locks.hold(keys), self._pool.connection() as conn:
            conn.execute(begin_and_lock(keys))
            self._held.conn = conn
            self._held.appended = False
            try:
                yield
            except BaseException:
                conn.rollback()
                raise
            finally:
                self._held.conn = None
            conn.commit()
        if self._held.appended:  # committed (an exception does not get here): the block's append is visible now
            self._announce()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection of this thread's :meth:`exclusive` block, else one from the pool."""
        held: psycopg.Connection[Any] | None = getattr(self._held, "conn", None)
        if held is not None:
            yield held
        else:
            with self._pool.connection() as conn:
                yield conn

    # ------------------------------------------------------------------ append
    def append(self, request: AppendRequest, respond: Responder | None = None) -> AppendResult:
        if not tracing.enabled():
            return self._append(request, respond, None)
        with append_span(request, "postgresql") as span:
            result = self._append(request, respond, tracing.current_traceparent())
            note_result(span, result)
            return result

    def _append(self, request: AppendRequest, respond: Responder | None, trace_context: str | None) -> AppendResult:
        rows = [(write, event) for write in request.writes for event in write.events]
        if not rows:
            raise ValueError("an append needs at least one event")
        expected = {write.stream_id: write.expected_version for write in request.writes}
        versions = [write.expected_version + i + 1 for write in request.writes for i in range(len(write.events))]
        append_sql, params = self._statement(request, rows, versions, trace_context)
        if self._recording_clock is not None:
            append_sql = self.append_recorded_at_sql
            params.append(self._recording_clock())
        claim = request.idempotency
        with self._connection() as conn:
            try:
                if claim is None and self._before_commit is None:
                    # The common case: one statement, one round trip; its own transaction, or the transaction of
                    # this thread's exclusive() block (a conflict then aborts that block, which rolls back).
                    returned = conn.execute(append_sql, params, prepare=True).fetchall()
                    result = self._result(request, rows, versions, returned)
                    self._announce_unless_held()
                    return result
                with conn.transaction():
                    returned = conn.execute(append_sql, params, prepare=True).fetchall()
                    result = self._result(request, rows, versions, returned)
                    if claim is not None:
                        response = respond(result) if respond else StoredResponse(200, b"")
                        if not self._claim(conn, claim, response):
                            raise _KeyTaken
                    if self._before_commit is not None:
                        self._before_commit(conn)
                self._announce_unless_held()
                return result
            except pg_errors.UniqueViolation as exc:
                raise self._conflict(exc, expected) from exc
            except _KeyTaken:
                assert claim is not None
                existing = self.find_idempotency(claim.scope, claim.key)
                if existing is None:  # the other request rolled back after all: let the caller try again
                    raise ConcurrencyConflict(f"idempotency:{claim.key}", 0) from None
                raise IdempotencyKeyTaken(existing) from None

    def _statement(
        self,
        request: AppendRequest,
        rows: list[tuple[StreamWrite, NewEvent]],
        versions: list[int],
        trace_context: str | None,
    ) -> tuple[str, list[Any]]:
        """The append statement and its parameters: one JSON document (sql/010) made by one ``orjson`` call, the
        payloads embedded as they are; psycopg then converts one string instead of 15 arrays of values (ADR 0041)."""
        digests = self._digests(rows, versions)
        document = {
            "e": [
                {
                    "s": w.stream_id,
                    "v": v,
                    "i": e.event_id,
                    "t": e.event_type,
                    "n": e.schema_version,
                    "o": e.occurred_at,
                    "a": e.actor,
                    "c": e.correlation_id,
                    "k": e.causation_id,
                    "p": orjson.Fragment(e.payload),
                    "d": d.hex(),
                    "x": trace_context,
                }
                for (w, e), v, d in zip(rows, versions, digests, strict=True)
            ],
            "set": [{"i": d.transfer_id, "d": d.due_at} for d in request.set_deadlines],
            "clear": list(request.clear_deadlines),
        }
        return self.append_sql, [orjson.dumps(document).decode()]

    @staticmethod
    def _digests(rows: list[tuple[StreamWrite, NewEvent]], versions: list[int]) -> list[bytes]:
        """Each event's content digest, the writer's part of its chain hash (ADR 0025)."""
        return [digest_of(w.stream_id, v, e) for (w, e), v in zip(rows, versions, strict=True)]

    def _announce_unless_held(self) -> None:
        """Announce an append that committed; one inside an :meth:`exclusive` block is announced when it commits."""
        if getattr(self._held, "conn", None) is None:
            self._announce()
        else:
            self._held.appended = True

    def _announce(self) -> None:
        if self._announcer is not None:
            self._announcer.announce()

    @staticmethod
    def _result(
        request: AppendRequest, rows: list[tuple[Any, Any]], versions: list[int], returned: list[tuple[Any, ...]]
    ) -> AppendResult:
        by_slot = {(stream, version): position for position, stream, version in returned}
        positions = tuple(by_slot[(w.stream_id, v)] for (w, _), v in zip(rows, versions, strict=True))
        return AppendResult(positions, {w.stream_id: w.expected_version + len(w.events) for w in request.writes})

    @staticmethod
    def _claim(conn: psycopg.Connection[Any], claim: IdempotencyClaim, response: StoredResponse) -> bool:
        """Record the answer under the claim's key; False when the key is already taken."""
        taken = conn.execute(
            "INSERT INTO idempotency_keys (scope, key, request_fingerprint, status_code, response)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            [claim.scope, claim.key, claim.request_fingerprint, response.status_code, response.body],
        ).fetchone()
        return taken is not None

    def remember_response(self, claim: IdempotencyClaim, response: StoredResponse) -> StoredIdempotency | None:
        with self._connection() as conn:
            if self._claim(conn, claim, response):
                return None
        return self.find_idempotency(claim.scope, claim.key)

    @staticmethod
    def _conflict(exc: pg_errors.UniqueViolation, expected: dict[str, int]) -> Exception:
        detail = exc.diag.message_detail or ""
        match = _CONFLICT_DETAIL.search(detail)
        if match and match.group("stream") in expected:
            stream = match.group("stream")
            return ConcurrencyConflict(stream, expected[stream])
        if exc.diag.constraint_name == "events_event_id_key":
            return ValueError(f"an event id is already recorded: {detail}")
        return exc

    # ------------------------------------------------------------------ reads
    def read_stream(
        self, stream_id: str, *, after_version: int = 0, to_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {LOGGED_EVENT_COLUMNS} FROM events WHERE stream_id = %s AND stream_version > %s"
                " AND stream_version <= %s ORDER BY stream_version LIMIT %s",
                [stream_id, after_version, to_version if to_version is not None else 2**62, limit],
                prepare=True,
            ).fetchall()
        return [RecordedEvent._make(row) for row in rows]

    def read_all(self, *, after_position: int = 0, limit: int = 1000, wait: float = 1.0) -> list[RecordedEvent]:
        return self._log.read(after_position, limit=limit, wait=wait)

    def head_position(self) -> int:
        return self._log.head_position()

    def stream_version(self, stream_id: str) -> int:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = %s", [stream_id], prepare=True
            ).fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ idempotency, deadlines, snapshots
    def find_idempotency(self, scope: str, key: str) -> StoredIdempotency | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT request_fingerprint, status_code, response FROM idempotency_keys WHERE scope = %s AND key = %s",
                [scope, key],
                prepare=True,
            ).fetchone()
        if row is None:
            return None
        return StoredIdempotency(row[0], StoredResponse(int(row[1]), bytes(row[2])))

    def purge_idempotency(self, older_than: datetime) -> int:
        with self._pool.connection() as conn:
            cursor = conn.execute("DELETE FROM idempotency_keys WHERE recorded_at < %s", [older_than])
            return cursor.rowcount

    def claim_due_deadlines(
        self, now: datetime, limit: int = 100, lease: timedelta = DEFAULT_DEADLINE_LEASE
    ) -> list[tuple[UUID, datetime]]:
        # One statement, one short transaction: rows another claimer (or an append clearing them) has locked are
        # skipped, not waited for; the claim commits at once, so the expiry's own append never waits on it.
        with self._pool.connection() as conn:
            rows = conn.execute(_CLAIM_DEADLINES, {"now": now, "until": now + lease, "limit": limit}).fetchall()
        return sorted(((row[0], row[1]) for row in rows), key=lambda row: row[1])

    def save_snapshot(self, snapshot: Snapshot) -> None:
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO snapshots (stream_id, stream_version, state) VALUES (%s, %s, %s)"
                " ON CONFLICT (stream_id) DO UPDATE SET stream_version = excluded.stream_version,"
                " state = excluded.state, taken_at = statement_timestamp()"
                " WHERE snapshots.stream_version < excluded.stream_version",
                [snapshot.stream_id, snapshot.stream_version, snapshot.state],
            )

    def latest_snapshot(self, stream_id: str) -> Snapshot | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT stream_version, state FROM snapshots WHERE stream_id = %s", [stream_id], prepare=True
            ).fetchone()
        return Snapshot(stream_id, int(row[0]), bytes(row[1])) if row else None


class _KeyTaken(Exception):
    """Internal: the idempotency insert found the key taken; the transaction must roll back first."""
