"""Avro encodings of payloads, for Kafka message values: Confluent's wire format and Avro single-object encoding.

- Confluent wire format (the ``v2`` topics, ADR 0028): ``00``, the writer schema's id in the schema registry
  (4 bytes, big-endian), the Avro binary body. The catalogue asks the registry for the schema of an id it has not
  met yet (once: ids never change) and finds our model by that schema's fingerprint.
- Single-object encoding (the ``v1`` topics, ADR 0006): the two marker bytes ``C3 01``, the 8-byte little-endian
  CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then the Avro binary body.

A consumer reads both (the first byte tells them apart), decodes with the writer schema, and upcasts the payload
to the current version with the event registry.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form
from pydantic import ValidationError

from eventledger_events.avro_schema import AvroSchema, avro_schema_for
from eventledger_events.base import DomainEvent
from eventledger_events.catalog import EVENT_REGISTRY
from eventledger_events.errors import MalformedMessageError, UnknownSchemaFingerprintError
from eventledger_events.registry import EventRegistry
from eventledger_events.schema_registry import (
    CONFLUENT_HEADER_LENGTH,
    SchemaRegistry,
    SchemaRegistryUnavailableError,
    is_wire_format,
    schema_id_of,
    wire_value,
)

SINGLE_OBJECT_MARKER = b"\xc3\x01"
FINGERPRINT_LENGTH = 8
HEADER_LENGTH = len(SINGLE_OBJECT_MARKER) + FINGERPRINT_LENGTH


def _without_uuid_logical_type(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_uuid_logical_type(v) for k, v in schema.items() if (k, v) != ("logicalType", "uuid")}
    if isinstance(schema, list):
        return [_without_uuid_logical_type(item) for item in schema]
    return schema


def schema_fingerprint(schema: AvroSchema) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form."""
    canonical = to_parsing_canonical_form(schema)
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """The Avro schema of one event type at one version."""

    event_type: str
    schema_version: int
    schema: AvroSchema
    parsed: Any
    fingerprint: bytes
    reading: Any
    """The schema decoding reads with: ``parsed`` without the ``uuid`` logical type, so that UUIDs come out as
    strings and the payload model parses them (in pydantic's core, at half the cost of building them in Python).
    The binary encoding is the same: a ``uuid`` is an Avro string."""

    @property
    def name(self) -> str:
        """``<event type>.v<version>``, as errors name it."""
        return f"{self.event_type}.v{self.schema_version}"


class AvroSchemaCatalog:
    """Avro schemas of every registered event model, by model and by fingerprint.

    Contract: encoding always uses the payload's own (current) version; decoding accepts every registered
    version, legacy ones included, and answers the payload upcast to the current version.
    """

    def __init__(self, registry: EventRegistry, schema_registry: SchemaRegistry | None = None) -> None:
        self._registry = registry
        self._schema_registry = schema_registry
        self._by_schema_id: dict[int, RegisteredSchema] = {}
        self._by_name: dict[tuple[str, int], RegisteredSchema] = {}
        self._by_fingerprint: dict[bytes, RegisteredSchema] = {}
        for model in registry.models():
            schema = avro_schema_for(model)
            entry = RegisteredSchema(
                event_type=model.EVENT_TYPE,
                schema_version=model.SCHEMA_VERSION,
                schema=schema,
                parsed=parse_schema(schema),
                fingerprint=schema_fingerprint(schema),
                reading=parse_schema(_without_uuid_logical_type(schema)),
            )
            clash = self._by_fingerprint.get(entry.fingerprint)
            if clash is not None:
                raise ValueError(
                    f"{model.full_name()} has the same Avro fingerprint as {clash.event_type}.v{clash.schema_version}"
                )
            self._by_name[(model.EVENT_TYPE, model.SCHEMA_VERSION)] = entry
            self._by_fingerprint[entry.fingerprint] = entry

    def entries(self) -> tuple[RegisteredSchema, ...]:
        """Every schema, sorted by event type then version."""
        return tuple(self._by_name[key] for key in sorted(self._by_name))

    def for_event(self, event_type: str, schema_version: int) -> RegisteredSchema:
        """The schema of exactly this type and version."""
        self._registry.model_for(event_type, schema_version)
        return self._by_name[(event_type, schema_version)]

    def is_current(self, entry: RegisteredSchema) -> bool:
        """Whether ``entry`` is the current version of its event type (a record of it needs no upcasting)."""
        return self._registry.current_version(entry.event_type) == entry.schema_version

    def by_fingerprint(self, schema_fingerprint: bytes) -> RegisteredSchema:
        """The schema whose fingerprint this is; ``UnknownSchemaFingerprintError`` if none."""
        entry = self._by_fingerprint.get(schema_fingerprint)
        if entry is None:
            raise UnknownSchemaFingerprintError(schema_fingerprint.hex())
        return entry

    @property
    def schema_registry(self) -> SchemaRegistry | None:
        return self._schema_registry

    def attach_registry(self, schema_registry: SchemaRegistry | None) -> None:
        """Read wire-format messages by asking ``schema_registry`` for the schemas of their ids (a process's wiring
        calls this once, before it consumes). Ids already read stay remembered only when the registry is the same."""
        if schema_registry is not self._schema_registry:
            self._by_schema_id.clear()
        self._schema_registry = schema_registry

    def by_schema_id(self, schema_id: int) -> RegisteredSchema:
        """The schema the registry holds under ``schema_id``, as one of ours (asked once, then remembered: an id's
        schema never changes). ``SchemaRegistryUnavailableError`` when the registry cannot be asked;
        ``MalformedMessageError`` for an id it never gave; ``UnknownSchemaFingerprintError`` for a schema of
        somebody else's."""
        entry = self._by_schema_id.get(schema_id)
        if entry is not None:
            return entry
        if self._schema_registry is None:
            raise SchemaRegistryUnavailableError(f"no schema registry configured to read schema id {schema_id}")
        try:
            text = self._schema_registry.schema(schema_id)
        except LookupError as error:
            raise MalformedMessageError(f"schema id {schema_id} is unknown to the schema registry") from error
        try:
            writer_schema = json.loads(text)
            entry = self.by_fingerprint(schema_fingerprint(writer_schema))
        except (ValueError, TypeError, KeyError) as error:
            raise MalformedMessageError(f"schema id {schema_id} is not an Avro schema: {error}") from error
        self._by_schema_id[schema_id] = entry
        return entry

    def encode(self, payload: DomainEvent) -> bytes:
        """The payload as an Avro single-object encoded message."""
        entry = self.for_event(payload.EVENT_TYPE, payload.SCHEMA_VERSION)
        buffer = io.BytesIO()
        buffer.write(SINGLE_OBJECT_MARKER)
        buffer.write(entry.fingerprint)
        schemaless_writer(buffer, entry.parsed, payload.model_dump(mode="python"))
        return buffer.getvalue()

    def encode_wire(self, payload: DomainEvent, schema_id: int) -> bytes:
        """The payload in the Confluent wire format, under the registry's ``schema_id`` of its schema."""
        entry = self.for_event(payload.EVENT_TYPE, payload.SCHEMA_VERSION)
        buffer = io.BytesIO()
        schemaless_writer(buffer, entry.parsed, payload.model_dump(mode="python"))
        return wire_value(schema_id, buffer.getvalue())

    def decode(self, message: bytes) -> DomainEvent:
        """Decode a message (either encoding) and answer the payload upcast to the current version."""
        entry, record = self.read(message)
        try:
            return self._registry.payload_from_dict(entry.event_type, entry.schema_version, record)
        except ValidationError as error:
            raise MalformedMessageError(f"invalid {entry.name} payload: {error}") from error

    def read(self, message: bytes) -> tuple[RegisteredSchema, dict[str, Any]]:
        """The schema a message was written with and its body as an Avro record, not yet a payload (nothing is
        validated beyond the Avro types): ``MalformedMessageError`` unless the body is exactly one record."""
        entry, header_length = self._writer(message)
        body = io.BytesIO(message[header_length:])
        try:
            record = schemaless_reader(body, entry.reading, None)
        except (EOFError, ValueError, IndexError) as error:
            raise MalformedMessageError(f"bad Avro body for {entry.name}") from error
        if body.read(1):
            raise MalformedMessageError(f"trailing bytes after the {entry.name} body")
        if not isinstance(record, dict):
            raise MalformedMessageError("Avro body is not a record")
        return entry, record

    def writer_schema_of(self, message: bytes) -> RegisteredSchema:
        """The schema a message was written with: by its schema id (wire format) or its fingerprint."""
        return self._writer(message)[0]

    def _writer(self, message: bytes) -> tuple[RegisteredSchema, int]:
        """The writer schema and where the body starts."""
        if is_wire_format(message):
            return self.by_schema_id(schema_id_of(message)), CONFLUENT_HEADER_LENGTH
        if len(message) < HEADER_LENGTH or not message.startswith(SINGLE_OBJECT_MARKER):
            raise MalformedMessageError("neither the Confluent wire format nor Avro single-object encoding")
        return self.by_fingerprint(message[len(SINGLE_OBJECT_MARKER) : HEADER_LENGTH]), HEADER_LENGTH


@cache
def default_avro_catalog() -> AvroSchemaCatalog:
    """The catalogue built from the default event registry (built on first use, then shared)."""
    return AvroSchemaCatalog(EVENT_REGISTRY)


def encode_avro(payload: DomainEvent) -> bytes:
    """Avro single-object encoding of ``payload`` with the default catalogue."""
    return default_avro_catalog().encode(payload)


def decode_avro(message: bytes) -> DomainEvent:
    """Decode an Avro single-object message with the default catalogue; the answer is upcast to current."""
    return default_avro_catalog().decode(message)


def schema_for_fingerprint(schema_fingerprint: bytes) -> AvroSchema:
    """The JSON-shaped writer schema registered under ``schema_fingerprint``."""
    return default_avro_catalog().by_fingerprint(schema_fingerprint).schema
