"""Wiring the Redis read model into the projector CLI: the projection, its rebuild and its status, from the
settings (nothing connects at import time). Every read model has a ``wiring`` module of this shape, which
:mod:`eventledger_projections.bootstrap` registers."""

from __future__ import annotations

from eventledger_projections.rebuild.port import RebuildListener, RebuildReport
from eventledger_projections.redis.connection import connect
from eventledger_projections.redis.keys import KeySpace
from eventledger_projections.redis.projection import RedisProjection
from eventledger_projections.redis.rebuild import RedisRebuild, RedisRebuildConfig
from eventledger_projections.redis.versions import live_version, versions
from eventledger_runtime.settings import ProjectionSettings, Servers

NAME = "redis"
OPS_PORT = 18102
"""The projector's default ops port (PostgreSQL 18101, Elasticsearch 18103)."""
TOPICS = RedisProjection.topics
__all__ = ["NAME", "OPS_PORT", "TOPICS", "build_projection", "run_rebuild", "status"]


def build_projection(settings: ProjectionSettings, infra: Servers) -> RedisProjection:
    """The live projection under the Redis key base the namespace derives."""
    return RedisProjection(connect(infra.redis_url), base=settings.names.redis_base)


def run_rebuild(
    settings: ProjectionSettings, infra: Servers, listener: RebuildListener, *, force: bool = False
) -> RebuildReport:
    """Rebuild from the event store named by the projector settings into the Redis of ``infra``. ``force`` changes
    nothing here: a rebuild that holds the lock deletes the versions an abandoned one left behind anyway."""
    del force
    client = connect(infra.redis_url, client_name="eventledger-rebuild-redis")
    try:
        rebuild = RedisRebuild(
            client,
            infra.postgres_dsn,
            relay_checkpoint=settings.relay_checkpoint_name,
            base=settings.names.redis_base,
            config=RedisRebuildConfig(batch_size=settings.rebuild_batch_size),
            listener=listener,
        )
        return rebuild.run()
    finally:
        client.close()


def status(settings: ProjectionSettings, infra: Servers) -> dict[str, object]:
    """The live version, every version and its state, and the reflected position."""
    base = settings.names.redis_base
    keys = KeySpace(base)
    client = connect(infra.redis_url, client_name="eventledger-status-redis")
    projection = RedisProjection(client, base=base)
    try:
        live = live_version(client, keys)
        return {
            "key base": base,
            "live version": live,
            "versions": [f"v{number}: {state}" for number, state in sorted(versions(client, keys).items())],
            "reflected position": projection.reflected_position() if live is not None else 0,
        }
    finally:
        projection.close()
