"""The instance registry in PostgreSQL: the table ``projector_instances`` in the event store's database (the runtime
kit's migrations, ``eventledger_runtime/sql/``), stamped and aged by the database's clock, so instances on several
hosts are judged by one clock."""

from __future__ import annotations

from typing import Any

from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from eventledger_runtime.instances.port import (
    FORGOTTEN_AFTER_SECONDS,
    STALE_AFTER_SECONDS,
    Heartbeat,
    InstanceRecord,
    InstanceRegistry,
    PartitionProgress,
    Registration,
)
from eventledger_runtime.migrations import migrate

MIGRATIONS = ("runtime", "eventledger_runtime")
"""The runtime kit's migrations: component name and package (``eventledger_runtime/sql/NNN_*.sql``)."""

# One statement: forget instances silent for too long, then register or refresh this one.
_BEAT = """
WITH forgotten AS (
    DELETE FROM projector_instances WHERE heartbeat_at < now() - make_interval(secs => %(forgotten_after)s)
)
INSERT INTO projector_instances AS i (instance_id, projection, host, port, pid, started_at, heartbeat_at, state,
    reason, position, lag_events, lag_seconds, partitions)
VALUES (%(instance_id)s, %(projection)s, %(host)s, %(port)s, %(pid)s, %(started_at)s, now(), %(state)s,
    %(reason)s, %(position)s, %(lag_events)s, %(lag_seconds)s, %(partitions)s)
ON CONFLICT (instance_id) DO UPDATE SET
    projection = excluded.projection, host = excluded.host, port = excluded.port, pid = excluded.pid,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, state = excluded.state,
    reason = excluded.reason, position = excluded.position, lag_events = excluded.lag_events,
    lag_seconds = excluded.lag_seconds, partitions = excluded.partitions
"""
_LIST = """
SELECT instance_id, projection, host, port, pid, started_at, state, reason, position, lag_events, lag_seconds,
    partitions, greatest(0, extract(epoch FROM now() - heartbeat_at))::float8 AS age
FROM projector_instances
WHERE (%(projection)s::text IS NULL OR projection = %(projection)s::text)
  AND heartbeat_at >= now() - make_interval(secs => %(forgotten_after)s)
ORDER BY projection, started_at, instance_id
"""


class PostgresInstanceRegistry(InstanceRegistry):
    """The registry in the database (and ``search_path``) of ``dsn``, or over a pool its owner lends (left open by
    :meth:`close`). A beat creates the table when it is missing (the runtime kit's migrations); a listing before any
    instance ever beat finds none."""

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: ConnectionPool | None = None,
        stale_after: float = STALE_AFTER_SECONDS,
        forgotten_after: float = FORGOTTEN_AFTER_SECONDS,
        name: str = "instance-registry",
    ) -> None:
        if pool is not None:
            if dsn is not None:
                raise ValueError("give the registry a dsn or a pool, not both")
            self._pool, self._owns_pool = pool, False
        elif dsn is not None:
            # One connection, and a short wait for it: a heartbeat that cannot be written is retried at the next.
            self._pool = ConnectionPool(
                dsn, min_size=1, max_size=1, open=True, timeout=5.0, kwargs={"autocommit": True}, name=name
            )
            self._owns_pool = True
        else:
            raise ValueError("give the registry a dsn or a pool")
        self._stale_after = stale_after
        self._forgotten_after = forgotten_after

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    def beat(self, registration: Registration, heartbeat: Heartbeat) -> None:
        params = {
            "instance_id": registration.instance_id,
            "projection": registration.projection,
            "host": registration.host,
            "port": registration.port,
            "pid": registration.pid,
            "started_at": registration.started_at,
            "state": heartbeat.state,
            "reason": heartbeat.reason,
            "position": heartbeat.position,
            "lag_events": heartbeat.lag_events,
            "lag_seconds": heartbeat.lag_seconds,
            "partitions": Jsonb(
                [
                    {"topic": p.topic, "partition": p.partition, "offset": p.offset, "lag": p.lag}
                    for p in heartbeat.partitions
                ]
            ),
            "forgotten_after": self._forgotten_after,
        }
        with self._pool.connection() as conn:
            try:
                conn.execute(_BEAT, params)
            except pg_errors.UndefinedTable:
                migrate(conn, *MIGRATIONS)
                conn.execute(_BEAT, params)

    def deregister(self, instance_id: str) -> None:
        with self._pool.connection() as conn:
            try:
                conn.execute("DELETE FROM projector_instances WHERE instance_id = %s", [instance_id])
            except pg_errors.UndefinedTable:
                return

    def instances(self, projection: str | None = None) -> list[InstanceRecord]:
        with self._pool.connection() as conn:
            try:
                rows = conn.execute(
                    _LIST, {"projection": projection, "forgotten_after": self._forgotten_after}
                ).fetchall()
            except pg_errors.UndefinedTable:
                return []
        return [self._record(row) for row in rows]

    def _record(self, row: Any) -> InstanceRecord:
        (instance_id, projection, host, port, pid, started_at, state, reason, position, lag_events, lag_seconds,
         partitions, age) = row  # fmt: skip
        heartbeat = Heartbeat(
            state=state,
            position=int(position),
            lag_events=int(lag_events),
            lag_seconds=float(lag_seconds),
            partitions=tuple(
                PartitionProgress(p["topic"], int(p["partition"]), _int(p["offset"]), _int(p["lag"]))
                for p in partitions
            ),
            reason=reason,
        )
        registration = Registration(instance_id, projection, host, int(port), int(pid), started_at)
        return InstanceRecord(registration, heartbeat, float(age), float(age) > self._stale_after)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
