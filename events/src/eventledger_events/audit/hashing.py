"""The content digest and the event hash: how each event is bound to its content, its place and its stream.

Contract (fixed; the event store's SQL and the audit API use exactly this):

**Content digest**: ``SHA-256`` over the UTF-8 bytes of
``json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` where ``content`` is::

    {"stream_id": str, "stream_version": int, "event_id": str (UUID, lower-case hyphenated),
     "event_type": str, "schema_version": int,
     "occurred_at": int (microseconds since the Unix epoch, UTC: (dt - EPOCH) // timedelta(microseconds=1)),
     "actor": str, "correlation_id": str (UUID), "causation_id": str (UUID) or None,
     "payload": dict (the event's JSON payload)}

**Event hash** (a hash chain per stream)::

    SHA-256(b"eventledger-event-v1\\x00" || content digest (32 bytes)
            || position.to_bytes(8, "big", signed=True) || recorded_at_micros.to_bytes(8, "big", signed=True)
            || previous event hash)

where the previous event hash is the event hash of the same stream's previous version, or 32 zero bytes for
version 1. In SQL: ``sha256(convert_to('eventledger-event-v1', 'UTF8') || '\\x00'::bytea || digest
|| int8send(position) || int8send(micros) || prev)``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EVENT_HASH_DOMAIN = b"eventledger-event-v1\x00"
GENESIS_HASH = bytes(32)
"""The ``previous event hash`` of every stream's version 1."""


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float on the way); ``moment`` must be timezone-aware."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return (moment - EPOCH) // timedelta(microseconds=1)


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes the digests are taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_digest(
    *,
    stream_id: str,
    stream_version: int,
    event_id: uuid.UUID | str,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    actor: str,
    correlation_id: uuid.UUID | str,
    causation_id: uuid.UUID | str | None,
    payload: Mapping[str, Any],
) -> bytes:
    """The 32-byte content digest of one event (see the module docstring)."""
    return _digest(
        stream_id,
        stream_version,
        _uuid_text(event_id),
        event_type,
        schema_version,
        to_micros(occurred_at),
        actor,
        _uuid_text(correlation_id),
        None if causation_id is None else _uuid_text(causation_id),
        dict(payload),
    )


def exported_content_digest(event: Mapping[str, Any]) -> bytes:
    """The content digest of an event as the export writes it (``occurred_at`` in ISO 8601 with an offset).

    The payload is digested as it stands, whatever JSON value it is (a payload turned into a non-object by hand
    digests to something no writer made). Raises ``KeyError``, ``TypeError`` or ``ValueError`` when another field is
    absent or of the wrong form.
    """
    causation = event["causation_id"]
    return _digest(
        _typed(event, "stream_id", str),
        _typed(event, "stream_version", int),
        _uuid_text(_typed(event, "event_id", str)),
        _typed(event, "event_type", str),
        _typed(event, "schema_version", int),
        to_micros(parse_timestamp(_typed(event, "occurred_at", str))),
        _typed(event, "actor", str),
        _uuid_text(_typed(event, "correlation_id", str)),
        None if causation is None else _uuid_text(_typed(event, "causation_id", str)),
        event["payload"],
    )


def _digest(
    stream_id: str,
    stream_version: int,
    event_id: str,
    event_type: str,
    schema_version: int,
    occurred_at_micros: int,
    actor: str,
    correlation_id: str,
    causation_id: str | None,
    payload: Any,
) -> bytes:
    content = {
        "stream_id": stream_id,
        "stream_version": stream_version,
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": schema_version,
        "occurred_at": occurred_at_micros,
        "actor": actor,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "payload": payload,
    }
    return hashlib.sha256(canonical_json(content)).digest()


def event_hash(digest: bytes, position: int, recorded_at_micros: int, previous: bytes) -> bytes:
    """The event hash (see the module docstring): ``previous`` is :data:`GENESIS_HASH` for version 1."""
    if len(digest) != 32 or len(previous) != 32:
        raise ValueError("the content digest and the previous event hash are 32 bytes each")
    return hashlib.sha256(
        EVENT_HASH_DOMAIN
        + digest
        + position.to_bytes(8, "big", signed=True)
        + recorded_at_micros.to_bytes(8, "big", signed=True)
        + previous
    ).digest()


def parse_timestamp(text: str) -> datetime:
    """An export timestamp (``2026-12-05T21:30:00.123456+00:00``) as an aware datetime; a naive one is refused."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no offset")
    return moment


def format_timestamp(moment: datetime) -> str:
    """The export's form of a timestamp: ISO 8601 in UTC with microseconds and the offset."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _uuid_text(value: uuid.UUID | str) -> str:
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))


def _typed(event: Mapping[str, Any], name: str, kind: type) -> Any:
    value = event[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name} is not a {kind.__name__}")
    return value
