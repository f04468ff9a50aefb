"""Versions of the PostgreSQL read model, side by side, and the atomic switch between them.

Layout: the stable schema ``<base>`` holds ``live_version`` (one row: the live version), ``versions`` (history),
views ``accounts``, ``account_entries``, ``transfers`` and ``projection_partitions`` onto the live version, and the
function ``reflected_position()``. Each version is a schema ``<base>_v<N>`` with the tables of
``sql/*.sql`` and its own progress table. A switch re-creates the views and moves the pointer in one transaction.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import Connection, Cursor, sql

from eventledger_projections.runtime.pgprogress import migrate_progress
from eventledger_runtime.migrations import migrate

VIEWS = ("accounts", "account_entries", "transfers", "projection_partitions")
PROJECTION_NAME = "postgres"


@dataclass(frozen=True)
class Version:
    number: int
    schema: str


class ReadModelSchemas:
    def __init__(self, base: str = "read_model") -> None:
        self.base = base

    def version_schema(self, number: int) -> str:
        return f"{self.base}_v{number}"

    # ------------------------------------------------------------------ stable schema
    def ensure_base(self, conn: Connection[Any]) -> None:
        with conn.transaction():
            self._lock(conn)
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.base)))
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.base)))
            migrate(conn, "postgres-read-model-live", "eventledger_projections.postgres", "live_sql")

    def ensure_live(self, conn: Connection[Any]) -> Version:
        """The live version; the first call ever creates version 1 (empty) and makes it live."""
        self.ensure_base(conn)
        with conn.transaction():
            self._lock(conn)
            live = self.live(conn)
            if live is not None:
                return live
            version = self.create_version(conn)
            self.switch(conn, version, built_to=0)
            return version

    def live(self, conn: Connection[Any], lock: Literal["share", "update"] | None = None) -> Version | None:
        """The live version; ``lock`` takes the pointer row FOR SHARE (a projector's batch) or FOR UPDATE (a
        switch), so that a batch and a switch never interleave."""
        return self.read_live(self.query_live(conn, lock))

    def query_live(self, conn: Connection[Any], lock: Literal["share", "update"] | None = None) -> Cursor[Any]:
        """Send the query of :meth:`live` (in pipeline mode, with what follows); read it with ``read_live``."""
        clause = {None: "", "share": " FOR SHARE", "update": " FOR UPDATE"}[lock]
        query = sql.SQL("SELECT version, schema_name FROM {}" + clause)
        return conn.execute(query.format(sql.Identifier(self.base, "live_version")), prepare=True)

    @staticmethod
    def read_live(cursor: Cursor[Any]) -> Version | None:
        row = cursor.fetchone()
        return Version(int(row[0]), str(row[1])) if row else None

    # ------------------------------------------------------------------ versions
    def create_version(self, conn: Connection[Any]) -> Version:
        """A new, empty version schema (state ``building``) with every table and index."""
        with conn.transaction():
            self._lock(conn)
            row = conn.execute(
                sql.SQL("SELECT coalesce(max(version), 0) + 1 FROM {}").format(sql.Identifier(self.base, "versions"))
            ).fetchone()
            assert row is not None
            version = Version(int(row[0]), self.version_schema(int(row[0])))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(version.schema)))
            migrate_progress(conn, version.schema)
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(version.schema)))
            migrate(conn, "postgres-read-model", "eventledger_projections.postgres")
            conn.execute(
                sql.SQL("INSERT INTO {} (version, schema_name, state) VALUES (%s, %s, 'building')").format(
                    sql.Identifier(self.base, "versions")
                ),
                [version.number, version.schema],
            )
        return version

    def switch(self, conn: Connection[Any], version: Version, *, built_to: int) -> None:
        """Make ``version`` live: views, function and pointer, in the caller's transaction (one commit)."""
        base = sql.Identifier(self.base)
        for view in VIEWS:
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(self.base, view)))
            conn.execute(
                sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
                    sql.Identifier(self.base, view), sql.Identifier(version.schema, view)
                )
            )
        conn.execute(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION {}.reflected_position() RETURNS bigint LANGUAGE sql STABLE AS $body$"
                " SELECT coalesce(min(greatest(last_position, caught_up_position)), 0)"
                " FROM {}.projection_partitions WHERE projection = {} $body$"
            ).format(base, base, sql.Literal(PROJECTION_NAME))
        )
        versions = sql.Identifier(self.base, "versions")
        conn.execute(sql.SQL("UPDATE {} SET state = 'retired' WHERE state = 'live'").format(versions))
        conn.execute(
            sql.SQL(
                "UPDATE {} SET state = 'live', switched_at = statement_timestamp(), built_to = %s WHERE version = %s"
            ).format(versions),
            [built_to, version.number],
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (singleton, version, schema_name) VALUES (true, %s, %s) ON CONFLICT (singleton)"
                " DO UPDATE SET version = excluded.version, schema_name = excluded.schema_name,"
                " switched_at = statement_timestamp()"
            ).format(sql.Identifier(self.base, "live_version")),
            [version.number, version.schema],
        )

    def drop_retired(self, conn: Connection[Any], keep: int = 1) -> list[str]:
        """Drop the schemas of retired versions but the newest ``keep`` (kept for inspection and rollback)."""
        versions = sql.Identifier(self.base, "versions")
        retired = sql.SQL("SELECT version, schema_name FROM {} WHERE state = 'retired' ORDER BY version DESC")
        rows = conn.execute(retired.format(versions)).fetchall()
        dropped: list[str] = []
        for number, schema in rows[keep:]:
            with conn.transaction():
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
                conn.execute(sql.SQL("UPDATE {} SET state = 'dropped' WHERE version = %s").format(versions), [number])
            dropped.append(schema)
        return dropped

    def _lock(self, conn: Connection[Any]) -> None:
        """Serialise layout changes of this base (concurrent projector starts, a rebuild)."""
        key = zlib.crc32(f"eventledger-read-model:{self.base}".encode())
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [key])
