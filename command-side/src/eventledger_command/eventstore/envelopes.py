"""Between the contract's envelopes (:mod:`eventledger_events`) and the store's records (bytes and columns)."""

from __future__ import annotations

from eventledger_command.eventstore.records import NewEvent, RecordedEvent
from eventledger_events import EventEnvelope, payload_to_json
from eventledger_runtime.eventlog import decode_envelope


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
    return decode_envelope(recorded)
