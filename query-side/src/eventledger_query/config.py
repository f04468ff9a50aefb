"""Settings of the query service (EVENTLEDGER_QUERY_*). Connections come from eventledger_infra's Settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class QuerySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_QUERY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 18082
    pool_size: int = 10
    # X-Min-Position: how long a query waits for its read model to reach the position before answering 503.
    min_position_wait_seconds: float = Field(default=5.0, ge=0, le=30)
    # The read models' names: PostgreSQL schema of the live views, Redis key base, Elasticsearch index prefix.
    postgres_schema: str = "read_model"
    redis_base: str = "el"
    elasticsearch_prefix: str = "eventledger-"
    # How often GET /v1/stats/stream pushes the figures.
    stream_interval_seconds: float = Field(default=1.0, gt=0)
