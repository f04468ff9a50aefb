"""Wiring the PostgreSQL read model into the projector CLI: the projection, its rebuild and its status, from the
settings (nothing connects at import time). Every read model has a ``wiring`` module of this shape, which
:mod:`eventledger_projections.bootstrap` registers."""

from __future__ import annotations

import psycopg

from eventledger_projections.postgres.projection import PostgresProjection
from eventledger_projections.postgres.rebuild import PostgresRebuild, PostgresRebuildConfig
from eventledger_projections.postgres.schema import PROJECTION_NAME, ReadModelSchemas
from eventledger_projections.rebuild.port import RebuildListener, RebuildReport
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
