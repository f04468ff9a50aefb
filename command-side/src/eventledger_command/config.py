"""Settings of the write side's processes. Connections come from :class:`eventledger_infra.settings.Settings`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RelaySettings(BaseSettings):
    """EVENTLEDGER_RELAY_*: the relay's own knobs."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_RELAY_", extra="ignore")

    checkpoint_name: str = "kafka-relay"
    batch_size: int = 2000
    ops_port: int = 18091
    # Prepended to every topic name; empty in production, set by tests that need their own topics.
    topic_namespace: str = ""


class CommandSettings(BaseSettings):
    """EVENTLEDGER_COMMAND_*: the command service's own knobs."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_COMMAND_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 18081
    # "postgres" in every deployment; "memory" runs the same service on the in-memory store (demos, unit tests).
    store: Literal["postgres", "memory"] = "postgres"
    pool_size: int = 20
    # Every 20 events: a load then replays at most 19 events after its snapshot, which keeps the worst load
    # within 2x of a 10-event stream (bench/bench_aggregate_load.py).
    snapshot_interval: int = Field(default=20, ge=2)
    max_attempts: int = Field(default=10, ge=1)
    expiry_interval_seconds: float = Field(default=1.0, gt=0)
    idempotency_retention_hours: int = Field(default=48, ge=24, description="PRODUCT.md §2: at least 24 hours.")
