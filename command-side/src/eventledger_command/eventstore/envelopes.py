"""Between the contract's envelopes (:mod:`eventledger_events`) and the store's records (bytes and columns)."""

from __future__ import annotations

from eventledger_command.eventstore.records import NewEvent, RecordedEvent
from eventledger_events import EventEnvelope, payload_from_json, payload_to_json


def to_new_event(envelope: EventEnvelope) -> NewEvent:
    return NewEvent(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        schema_version=envelope.schema_version,
        occurred_at=envelope.occurred_at,
        actor=envelope.actor,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.causation_id,
        payload=payload_to_json(envelope.payload),
    )


def to_envelope(recorded: RecordedEvent) -> EventEnvelope:
    """The recorded event as an envelope; an older payload version is upcast to the current one."""
    payload = payload_from_json(recorded.event_type, recorded.schema_version, recorded.payload)
    return EventEnvelope(
        event_id=recorded.event_id,
        event_type=payload.EVENT_TYPE,
        schema_version=payload.SCHEMA_VERSION,
        stream_id=recorded.stream_id,
        stream_version=recorded.stream_version,
        position=recorded.position,
        occurred_at=recorded.occurred_at,
        recorded_at=recorded.recorded_at,
        actor=recorded.actor,
        correlation_id=recorded.correlation_id,
        causation_id=recorded.causation_id,
        payload=payload,
    )
