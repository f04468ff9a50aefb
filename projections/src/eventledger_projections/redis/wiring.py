"""Wiring the Redis read model into the projector CLI: the projection, its rebuild and its status, from the
settings (nothing connects at import time). Every read model has a ``wiring`` module of this shape, which
:mod:`eventledger_projections.bootstrap` registers."""

from __future__ import annotations

import re

import redis

from eventledger_projections.rebuild.port import RebuildListener, RebuildReport
from eventledger_projections.rebuild.sandbox import BoundedSource, Contents, SandboxError, canonical, check_name
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_projections.redis.connection import connect
from eventledger_projections.redis.keys import KeySpace
from eventledger_projections.redis.projection import RedisProjection
from eventledger_projections.redis.rebuild import RedisRebuild, RedisRebuildConfig
from eventledger_projections.redis.versions import live_version, versions
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.settings import ProjectionSettings, Servers

NAME = "redis"
OPS_PORT = 18102
"""The projector's default ops port (PostgreSQL 18101, Elasticsearch 18103)."""
TOPICS = RedisProjection.topics
__all__ = ["NAME", "OPS_PORT", "SANDBOXES", "TOPICS", "build_projection", "run_rebuild", "status"]


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


# ---------------------------------------------------------------------------------------------- sandboxes
_PROGRESS_KEYS = frozenset({"meta", "offsets", "last", "marks"})
"""A version's own bookkeeping (its projector's progress), not read-model rows."""


class _BoundedRedisRebuild(RedisRebuild):
    def __init__(self, *args: object, position: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._position = position

    def open_source(self) -> EventStoreSource:
        return BoundedSource(PostgresEventLogReader(self._dsn, name="sandbox-source"), self._position)


class RedisSandboxes:
    """Sandboxes of the Redis read model: key bases ``<base>:sandbox:<name>`` (see
    :mod:`eventledger_projections.rebuild.sandbox`)."""

    @staticmethod
    def base(settings: ProjectionSettings, name: str | None) -> str:
        return settings.names.redis_base if name is None else f"{settings.names.redis_base}:sandbox:{name}"

    def build(
        self, settings: ProjectionSettings, infra: Servers, name: str, position: int, listener: RebuildListener
    ) -> RebuildReport:
        client = connect(infra.redis_url, client_name="eventledger-sandbox-redis")
        try:
            return _BoundedRedisRebuild(
                client,
                infra.postgres_dsn,
                base=self.base(settings, name),
                config=RedisRebuildConfig(batch_size=settings.rebuild_batch_size),
                listener=listener,
                position=position,
            ).run()
        finally:
            client.close()

    def contents(self, settings: ProjectionSettings, infra: Servers, name: str | None) -> Contents:
        keys = KeySpace(self.base(settings, name))
        client = connect(infra.redis_url, client_name="eventledger-sandbox-redis")
        try:
            live = live_version(client, keys)
            if live is None:
                raise SandboxError(f"no Redis read model under {keys.base}")
            prefix = keys.version_prefix(live)
            found: Contents = {}
            for key in sorted(client.scan_iter(match=keys.version_pattern(live), count=1000)):
                local = key.removeprefix(prefix)
                kind = local.split(":", 1)[0]
                if local in _PROGRESS_KEYS:
                    continue
                found.setdefault(kind, {})[local] = canonical(_value(client, key))
            return found
        finally:
            client.close()

    def reflected_position(self, settings: ProjectionSettings, infra: Servers) -> int:
        projection = RedisProjection(connect(infra.redis_url), base=settings.names.redis_base)
        try:
            return projection.reflected_position()
        finally:
            projection.close()

    def drop(self, settings: ProjectionSettings, infra: Servers, name: str) -> list[str]:
        base = self.base(settings, check_name(name))
        client = connect(infra.redis_url, client_name="eventledger-sandbox-redis")
        try:
            pattern = re.sub(r"([\\*?\[\]])", r"\\\1", base) + ":*"
            found = list(client.scan_iter(match=pattern, count=1000))
            for start in range(0, len(found), 500):
                client.unlink(*found[start : start + 500])
            return [f"{base}:* ({len(found):,} keys)"] if found else []
        finally:
            client.close()


def _value(client: redis.Redis, key: str) -> object:
    kind = client.type(key)
    if kind == "hash":
        return client.hgetall(key)
    if kind == "zset":
        return client.zrange(key, 0, -1, withscores=True)
    if kind == "set":
        return sorted(client.smembers(key))
    if kind == "list":
        return client.lrange(key, 0, -1)
    return client.get(key)


SANDBOXES = RedisSandboxes()
