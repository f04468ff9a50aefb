"""Wiring the Redis read model into the projector process and the rebuild command (nothing connects at import)."""

from __future__ import annotations

from eventledger_infra.settings import Settings
from eventledger_projections.config import ProjectionSettings
from eventledger_projections.redis.connection import connect
from eventledger_projections.redis.projection import RedisProjection
from eventledger_projections.redis.rebuild import RebuildListener, RedisRebuild, RedisRebuildConfig, RedisRebuildReport
from eventledger_projections.redis.settings import RedisProjectionSettings


def build_redis_projection(settings: ProjectionSettings, infra: Settings) -> RedisProjection:
    """The projection factory the projector registry takes (``PROJECTIONS["redis"]``)."""
    del settings  # the key base is the Redis read model's own setting
    return RedisProjection(connect(infra.redis_url), base=RedisProjectionSettings.from_env().prefix)


def rebuild_redis(settings: ProjectionSettings, infra: Settings, listener: RebuildListener) -> RedisRebuildReport:
    """Rebuild from the event store named by the projector settings into the Redis of ``infra``."""
    client = connect(infra.redis_url, client_name="eventledger-rebuild-redis")
    try:
        rebuild = RedisRebuild(
            client,
            settings.event_store_dsn or infra.postgres_dsn,
            relay_checkpoint=settings.relay_checkpoint_name,
            base=RedisProjectionSettings.from_env().prefix,
            config=RedisRebuildConfig(batch_size=settings.rebuild_batch_size),
            listener=listener,
        )
        return rebuild.run()
    finally:
        client.close()
