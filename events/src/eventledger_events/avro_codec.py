"""Avro single-object encoding of payloads, for Kafka message values.

Layout (Avro specification, "Single object encoding"): the two marker bytes ``C3 01``, the 8-byte
little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then the Avro binary
body. A consumer finds the writer schema by fingerprint (``AvroSchemaCatalog.by_fingerprint``), decodes with
it, and upcasts the payload to the current version with the event registry.
"""

from __future__ import annotations

import io
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

    def __init__(self, registry: EventRegistry) -> None:
        self._registry = registry
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

    def by_fingerprint(self, schema_fingerprint: bytes) -> RegisteredSchema:
        """The schema whose fingerprint this is; ``UnknownSchemaFingerprintError`` if none."""
        entry = self._by_fingerprint.get(schema_fingerprint)
        if entry is None:
            raise UnknownSchemaFingerprintError(schema_fingerprint.hex())
        return entry

    def encode(self, payload: DomainEvent) -> bytes:
        """The payload as an Avro single-object encoded message."""
        entry = self.for_event(payload.EVENT_TYPE, payload.SCHEMA_VERSION)
        buffer = io.BytesIO()
        buffer.write(SINGLE_OBJECT_MARKER)
        buffer.write(entry.fingerprint)
        schemaless_writer(buffer, entry.parsed, payload.model_dump(mode="python"))
        return buffer.getvalue()

    def decode(self, message: bytes) -> DomainEvent:
        """Decode a single-object encoded message and answer the payload upcast to the current version."""
        entry, record = self.read(message)
        try:
            return self._registry.payload_from_dict(entry.event_type, entry.schema_version, record)
        except ValidationError as error:
            raise MalformedMessageError(f"invalid {entry.name} payload: {error}") from error

    def read(self, message: bytes) -> tuple[RegisteredSchema, dict[str, Any]]:
        """The schema a message was written with and its body as an Avro record, not yet a payload (nothing is
        validated beyond the Avro types): ``MalformedMessageError`` unless the body is exactly one record."""
        entry = self.writer_schema_of(message)
        body = io.BytesIO(message[HEADER_LENGTH:])
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
        """The schema a single-object encoded message was written with, found by its fingerprint."""
        if len(message) < HEADER_LENGTH or not message.startswith(SINGLE_OBJECT_MARKER):
            raise MalformedMessageError("not an Avro single-object encoded message")
        return self.by_fingerprint(message[len(SINGLE_OBJECT_MARKER) : HEADER_LENGTH])


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
