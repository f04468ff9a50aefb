"""Wiring the PostgreSQL read model into the projector CLI: the projection, its rebuild and its status, from the
settings (nothing connects at import time). Every read model has a ``wiring`` module of this shape, which
:mod:`eventledger_projections.bootstrap` registers."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from eventledger_projections.postgres.projection import PostgresProjection
from eventledger_projections.postgres.rebuild import PostgresRebuild, PostgresRebuildConfig
from eventledger_projections.postgres.schema import PROJECTION_NAME, ReadModelSchemas
from eventledger_projections.rebuild.port import RebuildListener, RebuildReport
from eventledger_projections.rebuild.sandbox import BoundedSource, Contents, SandboxError, canonical, check_name
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_projections.runtime.pgprogress import PostgresProgress
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.settings import ProjectionSettings, Servers

NAME = "postgres"
OPS_PORT = 18101
"""The projector's default ops port (Redis 18102, Elasticsearch 18103)."""
TOPICS = PostgresProjection.topics


def build_projection(settings: ProjectionSettings, infra: Servers) -> PostgresProjection:
    """The live projection: the read model's schemas under ``settings.postgres_schema`` in ``infra``'s database."""
    return PostgresProjection(infra.postgres_dsn, base_schema=settings.postgres_schema)


def run_rebuild(
    settings: ProjectionSettings, infra: Servers, listener: RebuildListener, *, force: bool = False
) -> RebuildReport:
    """One rebuild up to the relay's checkpoint. ``force`` changes nothing here: a rebuild always builds a fresh
    version, and versions it does not switch to are retired like any other."""
    del force
    source = EventStoreSource(
        PostgresEventLogReader(infra.postgres_dsn, name="rebuild-source"),
        relay_checkpoint=settings.relay_checkpoint_name,
    )
    try:
        rebuild = PostgresRebuild(
            infra.postgres_dsn,
            source,
            base_schema=settings.postgres_schema,
            config=PostgresRebuildConfig(batch_size=settings.rebuild_batch_size),
            listener=listener,
        )
        return rebuild.run()
    finally:
        source.close()


def status(settings: ProjectionSettings, infra: Servers) -> dict[str, object]:
    """The live version, its reflected position and per-partition progress (read only: creates nothing)."""
    schemas = ReadModelSchemas(settings.postgres_schema)
    with psycopg.connect(infra.postgres_dsn, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'live_version'",
            [schemas.base],
        ).fetchone()
        live = schemas.live(conn) if exists else None
        if live is None:
            return {"live version": None}
        progress = PostgresProgress(live.schema, PROJECTION_NAME)
        return {
            "live version": f"{live.number} ({live.schema})",
            "reflected position": progress.reflected_position(conn),
            "partitions": [
                f"{row.topic}[{row.partition}] next offset {row.next_offset}, reflects {row.reflects}"
                for row in progress.partitions(conn)
            ],
        }


# ---------------------------------------------------------------------------------------------- sandboxes
_TABLES = {"accounts": ("account_id",), "account_entries": ("account_id", "position"), "transfers": ("transfer_id",)}
"""The read model's tables and their keys (its progress table is the projector's, not the read model's)."""


class PostgresSandboxes:
    """Sandboxes of the PostgreSQL read model: base schemas ``<schema>_sandbox_<name>`` (see
    :mod:`eventledger_projections.rebuild.sandbox`)."""

    @staticmethod
    def base(settings: ProjectionSettings, name: str | None) -> str:
        return settings.postgres_schema if name is None else f"{settings.postgres_schema}_sandbox_{name}"

    def build(
        self, settings: ProjectionSettings, infra: Servers, name: str, position: int, listener: RebuildListener
    ) -> RebuildReport:
        source = BoundedSource(PostgresEventLogReader(infra.postgres_dsn, name="sandbox-source"), position)
        try:
            rebuild = PostgresRebuild(
                infra.postgres_dsn,
                source,
                base_schema=self.base(settings, name),
                config=PostgresRebuildConfig(batch_size=settings.rebuild_batch_size),
                listener=listener,
            )
            return rebuild.run()
        finally:
            source.close()

    def contents(self, settings: ProjectionSettings, infra: Servers, name: str | None) -> Contents:
        schemas = ReadModelSchemas(self.base(settings, name))
        with psycopg.connect(infra.postgres_dsn, autocommit=True) as conn:
            live = schemas.live(conn) if _has_base(conn, schemas.base) else None
            if live is None:
                raise SandboxError(f"no PostgreSQL read model under {schemas.base}")
            found: Contents = {}
            for table, key in _TABLES.items():
                rows = conn.execute(
                    sql.SQL("SELECT to_jsonb(t) FROM {} t").format(sql.Identifier(live.schema, table))
                ).fetchall()
                found[table] = {canonical([row[0][k] for k in key]): canonical(row[0]) for row in rows}
            return found

    def reflected_position(self, settings: ProjectionSettings, infra: Servers) -> int:
        schemas = ReadModelSchemas(settings.postgres_schema)
        with psycopg.connect(infra.postgres_dsn, autocommit=True) as conn:
            live = schemas.live(conn) if _has_base(conn, schemas.base) else None
            return PostgresProgress(live.schema, PROJECTION_NAME).reflected_position(conn) if live else 0

    def drop(self, settings: ProjectionSettings, infra: Servers, name: str) -> list[str]:
        base = self.base(settings, check_name(name))
        with psycopg.connect(infra.postgres_dsn, autocommit=True) as conn:
            names = [
                str(row[0])
                for row in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname = %s OR nspname ~ %s ORDER BY nspname",
                    [base, f"^{base}_v[0-9]+$"],
                ).fetchall()
            ]
            for schema in names:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        return names


def _has_base(conn: psycopg.Connection[Any], base: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'live_version'", [base]
    ).fetchone()
    return row is not None


SANDBOXES = PostgresSandboxes()
