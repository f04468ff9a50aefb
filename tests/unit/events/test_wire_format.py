"""The Confluent wire format (ADR 0028) through the in-memory schema registry: encoding under registered ids,
decoding by the id's schema, and what happens to ids nobody registered and to a registry that cannot answer."""

from __future__ import annotations

import json

import pytest

from eventledger_events import (
    ALL_TOPICS,
    EVENT_REGISTRY,
    AvroSchemaCatalog,
    DomainEvent,
    EventContractError,
    InMemorySchemaRegistry,
    MalformedMessageError,
    SchemaRegistryUnavailableError,
    register_schemas,
    subject_for,
)
from eventledger_events.published import render_schema
from eventledger_events.schema_registry import COMPATIBILITY_LEVEL, schema_id_of, wire_value


class Unreachable(InMemorySchemaRegistry):
    def schema(self, schema_id: int) -> str:
        raise SchemaRegistryUnavailableError("connection refused")


def test_every_version_of_every_type_is_registered_under_its_topic_and_type() -> None:
    registry = InMemorySchemaRegistry()
    ids = register_schemas(registry)
    catalog_entries = AvroSchemaCatalog(EVENT_REGISTRY).entries()
    assert len(ids.ids) == len(catalog_entries)
    assert ids.id_for("eventledger.accounts.v2", "account.opened", 2) != ids.id_for(
        "eventledger.accounts.v2", "account.opened", 1
    )
    assert set(registry.levels) == {
        subject_for(topic, entry.event_type)
        for entry in catalog_entries
        for topic in ALL_TOPICS
        if topic.split(".")[1] == entry.event_type.split(".")[0] + "s"
    }
    assert set(registry.levels.values()) == {COMPATIBILITY_LEVEL}
    assert register_schemas(registry) == ids, "registering again changes nothing"
    with pytest.raises(LookupError, match="not registered"):
        ids.id_for("eventledger.transfers.v2", "account.opened", 2)


def test_a_wire_format_value_decodes_to_the_same_payload(sample_payloads: list[DomainEvent]) -> None:
    registry = InMemorySchemaRegistry()
    ids = register_schemas(registry)
    writer, reader = AvroSchemaCatalog(EVENT_REGISTRY), AvroSchemaCatalog(EVENT_REGISTRY, registry)
    for payload in sample_payloads:
        topic = "eventledger.accounts.v2" if payload.EVENT_TYPE.startswith("account.") else "eventledger.transfers.v2"
        schema_id = ids.id_for(topic, payload.EVENT_TYPE, payload.SCHEMA_VERSION)
        value = writer.encode_wire(payload, schema_id)
        assert value[:1] == b"\x00"
        assert schema_id_of(value) == schema_id
        assert reader.decode(value) == reader.decode(writer.encode(payload)), "as the v1 encoding reads (upcast)"
        assert reader.read(value)[1] == reader.read(writer.encode(payload))[1]


def test_an_id_the_registry_never_gave_is_a_malformed_message() -> None:
    catalog = AvroSchemaCatalog(EVENT_REGISTRY, InMemorySchemaRegistry())
    with pytest.raises(MalformedMessageError, match="unknown to the schema registry"):
        catalog.decode(wire_value(4242, b"\x02"))


def test_a_schema_of_somebody_elses_is_refused() -> None:
    registry = InMemorySchemaRegistry()
    foreign = registry.register("other-value", json.dumps({"type": "record", "name": "Other", "fields": []}))
    with pytest.raises(EventContractError):
        AvroSchemaCatalog(EVENT_REGISTRY, registry).decode(wire_value(foreign, b""))


def test_an_unreachable_or_missing_registry_is_not_a_fault_of_the_message(sample_payloads: list[DomainEvent]) -> None:
    ids = register_schemas(InMemorySchemaRegistry())
    payload = next(p for p in sample_payloads if p.EVENT_TYPE == "account.opened")
    value = AvroSchemaCatalog(EVENT_REGISTRY).encode_wire(
        payload, ids.id_for("eventledger.accounts.v2", "account.opened", payload.SCHEMA_VERSION)
    )
    for catalog in (AvroSchemaCatalog(EVENT_REGISTRY, Unreachable()), AvroSchemaCatalog(EVENT_REGISTRY)):
        with pytest.raises(SchemaRegistryUnavailableError):
            catalog.decode(value)


def test_the_in_memory_registry_refuses_an_incompatible_version() -> None:
    registry = InMemorySchemaRegistry()
    register_schemas(registry)
    subject = subject_for("eventledger.accounts.v2", "account.opened")
    current = json.loads(render_schema(AvroSchemaCatalog(EVENT_REGISTRY).for_event("account.opened", 2).schema))
    current["fields"].append({"name": "branch", "type": "string"})
    assert not registry.compatible(subject, json.dumps(current))
    with pytest.raises(ValueError, match="not BACKWARD_TRANSITIVE"):
        registry.register(subject, json.dumps(current))
