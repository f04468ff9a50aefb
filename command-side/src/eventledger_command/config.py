"""Settings of the write side's processes. Connections come from :class:`eventledger_infra.settings.Settings`."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class RelaySettings(BaseSettings):
    """EVENTLEDGER_RELAY_*: the relay's own knobs."""

    model_config = SettingsConfigDict(env_prefix="EVENTLEDGER_RELAY_", extra="ignore")

    checkpoint_name: str = "kafka-relay"
    batch_size: int = 2000
    ops_port: int = 18091
    # Prepended to every topic name; empty in production, set by tests that need their own topics.
    topic_namespace: str = ""
