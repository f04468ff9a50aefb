"""Reading our Kafka values with the reference Avro implementation (the Apache ``avro`` package) alone, as a team
that does not use fastavro would (issue 15 item 2)."""

from __future__ import annotations

import io
import json
from enum import Enum
from pathlib import Path
from typing import Any
from uuid import UUID

import avro.io
import avro.schema

import eventledger_events as ev
from eventledger_events.avro_codec import schema_fingerprint
from tests.support.event_samples import sample_payloads

SCHEMAS = Path(__file__).resolve().parents[2] / "events" / "schemas"
PUBLISHED = sorted(SCHEMAS.glob("*.avsc"))
SINGLE_OBJECT_MARKER = b"\xc3\x01"


def reference_schemas() -> dict[bytes, avro.schema.Schema]:
    """Every published schema parsed by the reference implementation, by the fingerprint our header carries."""
    parsed = {}
    for path in PUBLISHED:
        text = path.read_text()
        parsed[schema_fingerprint(json.loads(text))] = avro.schema.parse(text)
    return parsed


def decode_with_reference(value: bytes, schemas: dict[bytes, avro.schema.Schema]) -> dict[str, Any]:
    """A message value (Avro single-object encoding) decoded by the reference implementation alone."""
    assert value[:2] == SINGLE_OBJECT_MARKER
    writer = schemas[value[2:10]]
    decoder = avro.io.BinaryDecoder(io.BytesIO(value[10:]))
    record = avro.io.DatumReader(writer).read(decoder)
    assert isinstance(record, dict)
    return record


def current_payloads() -> list[ev.DomainEvent]:
    """Only the current version of each event type: what the relay writes (older ones are upcast before)."""
    latest: dict[str, ev.DomainEvent] = {}
    for payload in sample_payloads():
        known = latest.get(payload.EVENT_TYPE)
        if known is None or payload.SCHEMA_VERSION > known.SCHEMA_VERSION:
            latest[payload.EVENT_TYPE] = payload
    return list(latest.values())


def as_reference_reads(payload: ev.DomainEvent) -> dict[str, Any]:
    """The payload as the reference implementation gives Avro values back: uuid as text, enums by their symbol,
    timestamps as aware datetimes in UTC (as our models hold them)."""
    return {name: _avro_value(value) for name, value in payload.model_dump(mode="python", by_alias=True).items()}


def _avro_value(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value
