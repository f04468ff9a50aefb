"""The registry ids of every schema a producer may write, registered once when it starts (ADR 0028)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from eventledger_events.avro_codec import AvroSchemaCatalog, default_avro_catalog
from eventledger_events.published import render_schema
from eventledger_events.schema_registry import COMPATIBILITY_LEVEL, SchemaRegistry, subject_for
from eventledger_events.topics import TOPIC_BY_CATEGORY, V2_TOPICS


@dataclass(frozen=True)
class RegisteredSchemaIds:
    """The registry's id of each (topic, event type, schema version). A producer holds one and never writes a
    message whose id is missing from it (``LookupError``): it cannot write a message no consumer could read."""

    ids: Mapping[tuple[str, str, int], int]

    def id_for(self, topic: str, event_type: str, schema_version: int) -> int:
        try:
            return self.ids[(topic, event_type, schema_version)]
        except KeyError:
            raise LookupError(
                f"no schema id for {event_type}.v{schema_version} on {topic}: it was not registered"
            ) from None


def topic_of_event_type(event_type: str, topics: Mapping[str, str] = TOPIC_BY_CATEGORY) -> str:
    """The topic an event type is published on (its category's)."""
    return topics[event_type.split(".", 1)[0]]


def register_schemas(
    registry: SchemaRegistry,
    topics: Iterable[str] = V2_TOPICS,
    catalog: AvroSchemaCatalog | None = None,
) -> RegisteredSchemaIds:
    """Register every published version of every event type (oldest first, so each is checked against the ones
    before it) under its subject on each of ``topics``, after setting the subject's compatibility level.
    Idempotent: a schema already registered keeps its id. ``SchemaRegistryUnavailableError`` when the registry
    cannot answer; ``ValueError`` when it refuses a schema (an incompatible change)."""
    chosen = set(topics)
    ids: dict[tuple[str, str, int], int] = {}
    levels_set: set[str] = set()
    for entry in (catalog or default_avro_catalog()).entries():
        topic = topic_of_event_type(entry.event_type)
        if topic not in chosen:
            continue
        subject = subject_for(topic, entry.event_type)
        if subject not in levels_set:
            registry.set_compatibility(subject, COMPATIBILITY_LEVEL)
            levels_set.add(subject)
        ids[(topic, entry.event_type, entry.schema_version)] = registry.register(subject, render_schema(entry.schema))
    return RegisteredSchemaIds(ids)
