"""The one place that wires the query side: settings in, readers out. Nothing connects at import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch
from psycopg_pool import ConnectionPool
from redis import Redis

from eventledger_projections.elasticsearch.names import IndexNames
from eventledger_query.admin import Operations
from eventledger_query.readers import PostgresReadModelReader, RedisFigures, TransferSearch
from eventledger_query.windows import WindowFigures
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.instances import PostgresInstanceRegistry
from eventledger_runtime.settings import QuerySettings, Servers, load_settings


@dataclass
class Readers:
    settings: QuerySettings
    postgres: PostgresReadModelReader
    redis: RedisFigures
    search: TransferSearch
    window_figures: WindowFigures
    _closers: tuple[Any, ...] = ()

    @property
    def wait(self) -> float:
        return self.settings.min_position_wait_seconds

    @property
    def stream_interval(self) -> float:
        return self.settings.stream_interval_seconds

    def windows(self) -> dict[str, Any]:
        return self.window_figures.latest()

    def last_hour(self) -> dict[str, Any]:
        return self.window_figures.last_hour()

    def close(self) -> None:
        for closer in self._closers:
            closer.close()


def build(settings: QuerySettings | None = None, infra: Servers | None = None) -> Readers:
    settings = settings or QuerySettings()
    infra = infra or load_settings()
    pool = ConnectionPool(
        infra.postgres_dsn,
        min_size=1,
        max_size=settings.pool_size,
        open=True,
        kwargs={"autocommit": True},
        name="query-read-model",
    )
    redis = Redis.from_url(infra.redis_url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
    es = Elasticsearch(infra.elasticsearch_url, request_timeout=5)
    return Readers(
        settings=settings,
        postgres=PostgresReadModelReader(pool, settings.postgres_schema),
        redis=RedisFigures(redis, settings.redis_base),
        search=TransferSearch(es, IndexNames(settings.elasticsearch_prefix)),
        window_figures=WindowFigures(redis, settings.redis_base),
        _closers=(pool, redis, es),
    )


def operations(readers: Readers) -> Operations:
    """The admin operations over the query service's own PostgreSQL pool (the instance registry and the event log
    live in the event store's database) and each read model's reflected position."""
    pool = readers.postgres.pool
    return Operations(
        registry=PostgresInstanceRegistry(pool=pool),
        event_log=PostgresEventLogReader(pool=pool),
        positions={
            "postgres": readers.postgres.position,
            "redis": readers.redis.position,
            "elasticsearch": readers.search.position,
        },
    )
