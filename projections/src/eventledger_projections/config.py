"""Settings of the projector processes (EVENTLEDGER_PROJECTION_*). Connections come from
:class:`eventledger_infra.settings.Settings` (EVENTLEDGER_PG_*, EVENTLEDGER_KAFKA_*, ...)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProjectionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_PROJECTION_", extra="ignore")

    # Prepended to every topic name and to the consumer group; empty in production, set by tests.
    topic_namespace: str = ""
    # Overrides the consumer group (default: <namespace>eventledger-projection-<name>).
    group_id: str | None = None
    batch_size: int = Field(default=500, ge=1)
    poll_timeout_seconds: float = Field(default=0.1, gt=0)
    max_attempts: int = Field(default=5, ge=1, description="Failures of a batch before bisecting / parking.")
    backoff_initial_seconds: float = Field(default=0.05, gt=0)
    backoff_max_seconds: float = Field(default=5.0, gt=0)
    progress_interval_seconds: float = Field(default=0.2, gt=0)
    session_timeout_ms: int = Field(default=10000, ge=6000)
    # None: the projection's own default port (postgres 18101, ...); each projector on a host needs its own.
    ops_port: int | None = None
    # The stable schema of the PostgreSQL read model; versions live in <schema>_v<N>.
    postgres_schema: str = "read_model"
    # The event store's database when it is not the read models' one (default: EVENTLEDGER_PG_*).
    event_store_dsn: str | None = None
    relay_checkpoint_name: str = "kafka-relay"
    rebuild_batch_size: int = Field(default=2000, ge=1)
