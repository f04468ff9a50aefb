"""JSON encoding of payloads, as stored in the event store (bytes, UTF-8, via orjson)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from eventledger_events.base import DomainEvent
from eventledger_events.catalog import EVENT_REGISTRY
from eventledger_events.errors import MalformedMessageError
from eventledger_events.registry import EventRegistry


def payload_to_json(payload: DomainEvent) -> bytes:
    """The payload's fields as a JSON object: UUIDs and instants as strings, money as integers."""
    return orjson.dumps(payload.model_dump(mode="json"))


def payload_from_json(
    event_type: str,
    schema_version: int,
    data: bytes | str,
    registry: EventRegistry = EVENT_REGISTRY,
) -> DomainEvent:
    """Decode a stored payload written at ``schema_version`` and answer it upcast to the current version.

    ``MalformedMessageError`` if the bytes are not a valid payload of that version.
    """
    try:
        decoded: Any = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        message = f"{event_type}.v{schema_version}: payload is not JSON: {error}"
        raise MalformedMessageError(message) from error
    if not isinstance(decoded, dict):
        raise MalformedMessageError(f"{event_type}.v{schema_version}: payload is not a JSON object")
    try:
        return registry.payload_from_dict(event_type, schema_version, decoded)
    except ValidationError as error:
        message = f"invalid {event_type}.v{schema_version} payload: {error}"
        raise MalformedMessageError(message) from error
