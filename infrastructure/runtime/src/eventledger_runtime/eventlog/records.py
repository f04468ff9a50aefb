"""An event as the global log holds it, and its envelope (the contract's type) for readers that decode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple
from uuid import UUID

from eventledger_events import EventEnvelope, payload_from_json


class LoggedEvent(NamedTuple):
    """One row of the global log, as stored: the payload is the JSON text written at ``schema_version``.

    A named tuple because rebuilds read millions of them: building one costs a tuple, not a validated model.
    The field order is the order of the columns the PostgreSQL reader selects.
    """

    position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    correlation_id: UUID
    causation_id: UUID | None
    payload: str
    event_hash: bytes | None = None
    """The event's link in its stream's hash chain (ADR 0025); ``None`` where a log keeps none (in-memory test logs)."""
    trace_context: str | None = None
    """The W3C ``traceparent`` of the span that appended the event (ADR 0032); ``None`` without one."""

    def envelope(self) -> EventEnvelope:
        """The event as a validated envelope; an older payload version is upcast to the current one."""
        return decode_envelope(self)

    def trusted_envelope(self) -> EventEnvelope:
        """The event as an envelope without the envelope's own checks, for bulk replays (:func:`decode_envelope`)."""
        return decode_envelope(self, trusted=True)


def decode_envelope(stored: LoggedEvent, *, trusted: bool = False) -> EventEnvelope:
    """A stored event as an envelope; an older payload version is upcast to the current one.

    ``trusted`` skips the envelope's own checks, for bulk replays: the payload is still validated (and upcast) by its
    contract, but the envelope's checks (types of the columns, the payload's type against the stream) are those the
    event store's table and the write side already enforce, so they are not repeated; instants are normalised to UTC
    as the envelope's validator would.
    """
    payload = payload_from_json(stored.event_type, stored.schema_version, stored.payload)
    occurred_at, recorded_at = stored.occurred_at, stored.recorded_at
    build: Callable[..., EventEnvelope] = EventEnvelope
    if trusted:
        build = EventEnvelope.model_construct
        occurred_at, recorded_at = occurred_at.astimezone(UTC), recorded_at.astimezone(UTC)
    return build(
        event_id=stored.event_id,
        event_type=payload.EVENT_TYPE,
        schema_version=payload.SCHEMA_VERSION,
        stream_id=stored.stream_id,
        stream_version=stored.stream_version,
        position=stored.position,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        actor=stored.actor,
        correlation_id=stored.correlation_id,
        causation_id=stored.causation_id,
        payload=payload,
    )
