"""A persistence module for the ``eventsourcing`` library on our gap-safe PostgreSQL log: no table lock.

``PERSISTENCE_MODULE=eventledger_command.eventsourcing`` with the same ``POSTGRES_*`` settings as
``eventsourcing.postgres`` (the library's settings code and connection pool are reused as they are). The tables are
the library's shapes plus our log's design (docs/adr/0005-gap-safe-global-log.md, docs/adr/0027-eventsourcing-on-our-
gap-safe-log.md):

- notification ids come from an identity column, and every insert takes its transaction id (``pg_current_xact_id()``,
  stored as ``tx_id``) before it draws any id, so writers never wait for each other (the library's recorder takes
  ``LOCK TABLE ... IN EXCLUSIVE MODE`` for every insert instead);
- ``select_notifications`` never returns an id above the *settled bound*: the largest id below which every id is
  decided (committed and visible, or rolled back for good). The bound moves without waiting while the ids above it
  are all visible; at a hole it draws a fresh xid ``h`` and waits until the snapshot's ``xmin`` reaches ``h`` (the
  hole's owner took its id before ``h``, so it has finished by then), for at most ``hole_wait`` seconds;
- new-events notices are sent after commit from a thread of their own (``eventledger_runtime.eventlog.notice``), never
  ``NOTIFY`` inside the insert, which would serialise commits on PostgreSQL's notify lock.

Unlike the library's recorder, ids of two concurrent inserts may interleave (both draw from the sequence at once):
each insert's ids are increasing, not contiguous.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

from eventsourcing import postgres as es_postgres
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    ListenNotifySubscription,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import resolve_topic
from psycopg import Connection
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier

from eventledger_runtime.eventlog.notice import (
    NewEventsAnnouncer,
    PostgresNewEventsAnnouncer,
    PostgresNewEventsListener,
)

__all__ = [
    "GapSafeAggregateRecorder",
    "GapSafeApplicationRecorder",
    "GapSafeFactory",
    "GapSafeProcessRecorder",
    "GapSafeSubscription",
    "GapSafeTrackingRecorder",
]

Datastore = es_postgres.PostgresDatastore

_XMIN = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin"
_FRESH_XID = "SELECT pg_current_xact_id()::text::bigint AS xid"
_TAKE_XID = "SELECT pg_current_xact_id()"


def _dsn(datastore: Datastore) -> str:
    """A DSN to the datastore's database whose ``search_path`` is its schema: the notices' channel is named after it."""
    kwargs = cast(dict[str, Any], datastore.pool.kwargs)
    params = {key: kwargs[key] for key in ("dbname", "host", "port", "user", "password") if kwargs.get(key)}
    if datastore.pool.get_password_func is not None:
        params["password"] = datastore.pool.get_password_func()
    return make_conninfo(**params, options=f"-csearch_path={datastore.schema}")


class _Recorder(es_postgres.PostgresRecorder):
    """DDL kept as a list of statements, run by the library's ``create_table``; names qualified by the schema."""

    def _name(self, table: str) -> Composed:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(table))

    def _id_type(self) -> Composable:
        return SQL(self.datastore.originator_id_type)

    def close(self) -> None:
        """Release what the recorder holds of its own (the library's recorders hold nothing: a no-op there)."""


class GapSafeAggregateRecorder(_Recorder, AggregateRecorder):
    """Events of aggregates without an application sequence (the library uses it for snapshots)."""

    def __init__(self, datastore: Datastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore)
        self.check_identifier_length(events_table_name)
        self.events_table_name = events_table_name
        table = self._name(events_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {table} (originator_id {id_type} NOT NULL,"
                " originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL,"
                " PRIMARY KEY (originator_id, originator_version))"
            ).format(table=table, id_type=self._id_type())
        )
        self._insert = SQL(
            "INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[])"
        ).format(table=table, id_type=self._id_type())
        self._select = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} WHERE originator_id = %s"
        ).format(table)

    @staticmethod
    def _columns(stored_events: Sequence[StoredEvent]) -> list[list[Any]]:
        return [
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        ]

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if stored_events:
            with self.datastore.get_connection() as conn:
                conn.execute(self._insert, self._columns(stored_events), prepare=True)
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        statement = self._select
        params: list[Any] = [originator_id]
        if gt is not None:
            statement += SQL(" AND originator_version > %s")
            params.append(gt)
        if lte is not None:
            statement += SQL(" AND originator_version <= %s")
            params.append(lte)
        statement += SQL(" ORDER BY originator_version DESC") if desc else SQL(" ORDER BY originator_version")
        if limit is not None:
            statement += SQL(" LIMIT %s")
            params.append(limit)
        with self.datastore.get_connection() as conn:
            rows = conn.execute(statement, params, prepare=True).fetchall()
        return [
            StoredEvent(row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"]))
            for row in rows
        ]


class GapSafeApplicationRecorder(GapSafeAggregateRecorder, ApplicationRecorder):
    """The application sequence: notification ids are positions of a gap-safe log (see the module's docstring)."""

    def __init__(
        self,
        datastore: Datastore,
        *,
        events_table_name: str = "stored_events",
        announcer: NewEventsAnnouncer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name, **kwargs)
        table = self._name(events_table_name)
        self.sql_create_statements[-1] = SQL(
            "CREATE TABLE IF NOT EXISTS {table} (notification_id bigint GENERATED ALWAYS AS IDENTITY,"
            " tx_id xid8 NOT NULL, originator_id {id_type} NOT NULL, originator_version bigint NOT NULL,"
            " topic text NOT NULL, state bytea NOT NULL, PRIMARY KEY (originator_id, originator_version))"
        ).format(table=table, id_type=self._id_type())
        self.sql_create_statements.append(
            SQL("CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {table} (notification_id)").format(
                index=Identifier(f"{events_table_name}_notification_id_idx"[: self.MAX_IDENTIFIER_LEN]), table=table
            )
        )
        # The transaction id is taken in the materialised CTE, before the identity draws any id: every row the
        # INSERT projects (and so every nextval) carries the CTE's value, which exists only once it was taken.
        self._insert = SQL(
            "WITH tx AS MATERIALIZED (SELECT pg_current_xact_id() AS tx_id)"
            " INSERT INTO {table} (tx_id, originator_id, originator_version, topic, state)"
            " SELECT tx.tx_id, e.* FROM tx, unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[]) AS e"
            " RETURNING notification_id"
        ).format(table=table, id_type=self._id_type())
        self._frontier = SQL(
            "SELECT max(notification_id) AS top, count(*) AS seen FROM {} WHERE notification_id > %s"
        ).format(table)
        self._prefix = SQL(
            "SELECT max(n) AS top FROM (SELECT notification_id AS n, row_number() OVER (ORDER BY notification_id) AS k"
            " FROM {} WHERE notification_id > %s) AS s WHERE n = %s + k"
        ).format(table)
        self._notifications = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}"
            " WHERE notification_id > %s AND notification_id <= %s"
        ).format(table)
        self._max_id = SQL("SELECT max(notification_id) AS top FROM {}").format(table)
        self.hole_wait = 1.0
        """How long a read waits, at most, for the owner of an undecided id below the ids it could return."""
        self._settled = 0
        self._settled_lock = threading.Lock()
        self._announcer = announcer
        self._owns_announcer = False
        self._announcer_lock = threading.Lock()

    # ------------------------------------------------------------------ writing
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self.datastore.get_connection() as conn:
            ids = self._insert_in(conn, stored_events, **kwargs)
        if stored_events:
            self._announce()
        return ids

    def _insert_in(self, conn: Connection[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        if not stored_events:
            return []
        rows = conn.execute(self._insert, self._columns(stored_events), prepare=True).fetchall()
        return [row["notification_id"] for row in rows]

    def _announce(self) -> None:
        with self._announcer_lock:
            if self._announcer is None:
                self._announcer = PostgresNewEventsAnnouncer(_dsn(self.datastore))
                self._owns_announcer = True
        self._announcer.announce()

    def close(self) -> None:
        with self._announcer_lock:
            if self._owns_announcer and self._announcer is not None:
                self._announcer.close()
                self._announcer = None
                self._owns_announcer = False

    # ------------------------------------------------------------------ reading
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        after = 0 if start is None else (start - 1 if inclusive_of_start else start)
        with self.datastore.get_connection() as conn:
            upto = self._settled_bound(conn)
            if stop is not None:
                upto = min(upto, stop)
            if upto <= after:
                return []
            statement = self._notifications
            params: list[Any] = [after, upto]
            if topics:
                statement += SQL(" AND topic = ANY(%s)")
                params.append(list(topics))
            statement += SQL(" ORDER BY notification_id LIMIT %s")
            params.append(limit)
            rows = conn.execute(statement, params, prepare=True).fetchall()
        return [
            Notification(
                id=row["notification_id"],
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in rows
        ]

    def max_notification_id(self) -> int | None:
        """The largest id recorded (committed), as the library's recorder answers; reads stay gap-safe regardless."""
        with self.datastore.get_connection() as conn:
            row = conn.execute(self._max_id, prepare=True).fetchone()
        return None if row is None else row["top"]

    def settled_bound(self) -> int:
        """The largest id below which every id is decided (waits up to :attr:`hole_wait` at a hole)."""
        with self.datastore.get_connection() as conn:
            return self._settled_bound(conn)

    def _settled_bound(self, conn: Connection[DictRow]) -> int:
        settled = self._settled
        row = conn.execute(self._frontier, [settled], prepare=True).fetchone()
        assert row is not None
        top, seen = row["top"], int(row["seen"])
        if top is None:
            return settled
        if seen == top - settled:  # every id up to top is visible in one snapshot: all decided
            return self._settle(top)
        with conn.transaction(force_rollback=True):
            fresh = conn.execute(_FRESH_XID).fetchone()
        assert fresh is not None
        horizon = int(fresh["xid"])  # above the id of every transaction that had drawn an id up to top
        deadline = time.monotonic() + self.hole_wait
        pause = 0.0005
        while True:
            xmin = conn.execute(_XMIN, prepare=True).fetchone()
            if xmin is not None and int(xmin["xmin"]) >= horizon:
                return self._settle(top)
            if time.monotonic() >= deadline:  # an owner is still running: answer the visible run after settled
                prefix = conn.execute(self._prefix, [settled, settled], prepare=True).fetchone()
                return self._settle(prefix["top"] if prefix and prefix["top"] is not None else settled)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)

    def _settle(self, bound: int) -> int:
        with self._settled_lock:
            self._settled = max(self._settled, bound)
            return self._settled

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return GapSafeSubscription(recorder=self, gt=gt, topics=topics)


class GapSafeSubscription(ListenNotifySubscription[GapSafeApplicationRecorder]):
    """Pulls with the recorder's gap-safe ``select_notifications`` when a new-events notice arrives, and at least
    every :attr:`fallback` seconds (a notice is a hint: one may be lost, and a read may have stopped at a hole)."""

    fallback: ClassVar[float] = 0.5

    def __init__(self, recorder: GapSafeApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()) -> None:
        self._listener = PostgresNewEventsListener(_dsn(recorder.datastore))  # listening before the first pull
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._listen_thread = threading.Thread(target=self._listen, name="eventsourcing-subscription", daemon=True)
        self._listen_thread.start()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._listen_thread.join()

    def _listen(self) -> None:
        try:
            waited = 0.0
            while not self._has_been_stopped and not self._thread_error:
                if self._listener.wait(0.1) or waited >= self.fallback:
                    self._has_been_notified.set()
                    waited = 0.0
                else:
                    waited += 0.1
        except BaseException as exc:  # handed to the iterating thread, as the library's subscriptions do
            if self._thread_error is None:
                self._thread_error = exc
            self.stop()
        finally:
            self._listener.close()


class GapSafeTrackingRecorder(_Recorder, TrackingRecorder):
    """One row per upstream application: the highest notification id processed (the library's single-row tracking)."""

    def __init__(self, datastore: Datastore, *, tracking_table_name: str = "notification_tracking", **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self.check_identifier_length(tracking_table_name)
        self.tracking_table_name = tracking_table_name
        table = self._name(tracking_table_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (application_name text PRIMARY KEY, notification_id bigint NOT NULL)"
            ).format(table)
        )
        self._insert_tracking_sql = SQL(
            "INSERT INTO {table} AS t (application_name, notification_id) VALUES (%s, %s)"
            " ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id"
            " WHERE t.notification_id < excluded.notification_id RETURNING t.notification_id"
        ).format(table=table)
        self._max_tracking_sql = SQL("SELECT notification_id FROM {} WHERE application_name = %s").format(table)

    def insert_tracking(self, tracking: Tracking) -> None:
        with self.datastore.get_connection() as conn:
            self._track(conn, tracking)

    def _track(self, conn: Connection[DictRow], tracking: Tracking) -> None:
        row = conn.execute(
            self._insert_tracking_sql, [tracking.application_name, tracking.notification_id], prepare=True
        ).fetchone()
        if row is None:
            raise IntegrityError(
                f"{tracking.application_name} is already tracked at or past notification {tracking.notification_id}"
            )

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.datastore.get_connection() as conn:
            row = conn.execute(self._max_tracking_sql, [application_name], prepare=True).fetchone()
        return None if row is None else int(row["notification_id"])


class GapSafeProcessRecorder(GapSafeTrackingRecorder, GapSafeApplicationRecorder, ProcessRecorder):
    """Events and the tracking of the notification that caused them, in one transaction."""

    def __init__(
        self,
        datastore: Datastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
        announcer: NewEventsAnnouncer | None = None,
    ) -> None:
        super().__init__(
            datastore,
            tracking_table_name=tracking_table_name,
            events_table_name=events_table_name,
            announcer=announcer,
        )

    def _insert_in(self, conn: Connection[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is None:
            return super()._insert_in(conn, stored_events)
        with conn.transaction():
            conn.execute(_TAKE_XID, prepare=True)  # before any id is drawn (ADR 0005)
            self._track(conn, tracking)
            return super()._insert_in(conn, stored_events)


_Tracker = TypeVar("_Tracker", bound=GapSafeTrackingRecorder)


class GapSafeFactory(
    es_postgres.BasePostgresFactory[GapSafeTrackingRecorder], InfrastructureFactory[GapSafeTrackingRecorder]
):
    """The infrastructure factory the library finds in this module (``PERSISTENCE_MODULE``). Table names as
    ``eventsourcing.postgres`` names them; one new-events announcer per factory, closed with it."""

    aggregate_recorder_class = GapSafeAggregateRecorder
    application_recorder_class = GapSafeApplicationRecorder
    tracking_recorder_class = GapSafeTrackingRecorder
    process_recorder_class = GapSafeProcessRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._announcer: PostgresNewEventsAnnouncer | None = None

    def _shared_announcer(self) -> NewEventsAnnouncer:
        if self._announcer is None:
            self._announcer = PostgresNewEventsAnnouncer(_dsn(self.datastore))
        return self._announcer

    def _created(self, recorder: _Recorder) -> None:
        if self.env_create_table():
            recorder.create_table()

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        name = (self.env.name.lower() or "stored") + "_" + purpose
        recorder = self.aggregate_recorder_class(self.datastore, events_table_name=name)
        self._created(recorder)
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        cls: type[GapSafeApplicationRecorder] = resolve_topic(topic) if topic else self.application_recorder_class
        assert issubclass(cls, GapSafeApplicationRecorder)
        recorder = cls(
            self.datastore,
            events_table_name=(self.env.name.lower() or "stored") + "_events",
            announcer=self._shared_announcer(),
        )
        self._created(recorder)
        return recorder

    def tracking_recorder(self, tracking_recorder_class: type[_Tracker] | None = None) -> _Tracker:
        if tracking_recorder_class is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            tracking_recorder_class = cast(
                type[_Tracker], resolve_topic(topic) if topic else self.tracking_recorder_class
            )
        assert issubclass(tracking_recorder_class, GapSafeTrackingRecorder)
        recorder = tracking_recorder_class(
            self.datastore, tracking_table_name=(self.env.name.lower() or "notification") + "_tracking"
        )
        self._created(recorder)
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        cls: type[GapSafeProcessRecorder] = resolve_topic(topic) if topic else self.process_recorder_class
        assert issubclass(cls, GapSafeProcessRecorder)
        recorder = cls(
            self.datastore,
            events_table_name=(self.env.name.lower() or "stored") + "_events",
            tracking_table_name=(self.env.name.lower() or "notification") + "_tracking",
            announcer=self._shared_announcer(),
        )
        self._created(recorder)
        return recorder

    def close(self) -> None:
        if self._announcer is not None:
            self._announcer.close()
            self._announcer = None
        super().close()
