"""Wiring the Redis read model into the projector process and the rebuild command (nothing connects at import)."""

from __future__ import annotations

from eventledger_projections.redis.connection import connect
from eventledger_projections.redis.projection import RedisProjection
from eventledger_projections.redis.rebuild import RebuildListener, RedisRebuild, RedisRebuildConfig, RedisRebuildReport
from eventledger_runtime.settings import ProjectionSettings, Servers

OPS_PORT = 18102
"""The Redis projector's default ops port (PostgreSQL's is 18101)."""


def build_redis_projection(settings: ProjectionSettings, infra: Servers) -> RedisProjection:
    """The projection factory the projector registry takes (``PROJECTIONS["redis"]``)."""
    return RedisProjection(connect(infra.redis_url), base=settings.names.redis_base)


def rebuild_redis(settings: ProjectionSettings, infra: Servers, listener: RebuildListener) -> RedisRebuildReport:
    """Rebuild from the event store named by the projector settings into the Redis of ``infra``."""
    client = connect(infra.redis_url, client_name="eventledger-rebuild-redis")
    try:
        rebuild = RedisRebuild(
            client,
            settings.event_store(infra.postgres_dsn),
            relay_checkpoint=settings.relay_checkpoint_name,
            base=settings.names.redis_base,
            config=RedisRebuildConfig(batch_size=settings.rebuild_batch_size),
            listener=listener,
        )
        return rebuild.run()
    finally:
        client.close()
