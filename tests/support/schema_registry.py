"""The relay's schema ids for tests that run a relay in-process (registered once per session, idempotently)."""

from __future__ import annotations

from functools import cache

from eventledger_events import RegisteredSchemaIds, register_schemas
from eventledger_infra.settings import Settings
from eventledger_runtime.schema_registry import ConfluentSchemaRegistry


@cache
def registered_schema_ids(registry_url: str | None = None) -> RegisteredSchemaIds:
    """Every schema registered in the real registry (``make servers`` runs it), as the relay does when it starts."""
    return register_schemas(ConfluentSchemaRegistry(registry_url or Settings.from_env().registry_url))
