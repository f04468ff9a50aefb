"""Between the contract's envelopes (:mod:`eventledger_events`) and the store's records (bytes and columns)."""

from __future__ import annotations

from dataclasses import fields

from eventledger_command.eventstore.records import NewEvent, RecordedEvent
from eventledger_events import EventEnvelope, payload_to_json
from eventledger_runtime.eventlog import decode_envelope

_FROM_ENVELOPE = tuple(column.name for column in fields(NewEvent) if column.name != "payload")
"""The columns that are the envelope's fields of the same name (all but the payload, which is stored as JSON)."""


def to_new_event(envelope: EventEnvelope) -> NewEvent:
    copied = {name: getattr(envelope, name) for name in _FROM_ENVELOPE}
    return NewEvent(**copied, payload=payload_to_json(envelope.payload))


def to_envelope(recorded: RecordedEvent) -> EventEnvelope:
    """The recorded event as an envelope; an older payload version is upcast to the current one."""
    return decode_envelope(recorded)
