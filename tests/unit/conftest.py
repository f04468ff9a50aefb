"""Unit tests read the Confluent wire format through an in-memory schema registry (no server in this tier)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eventledger_events import InMemorySchemaRegistry, default_avro_catalog


@pytest.fixture(autouse=True)
def in_memory_schema_registry() -> Iterator[InMemorySchemaRegistry]:
    catalog = default_avro_catalog()
    before = catalog.schema_registry
    registry = InMemorySchemaRegistry()
    catalog.attach_registry(registry)
    yield registry
    catalog.attach_registry(before)
