"""The one place where a consumed message becomes what a projection applies (ADR 0022, ADR 0037).

:func:`decode_batch` turns a batch of messages into, per message, one of:

- a :class:`~.port.PassedEvent` for a type the projection does not use (``event_types``): identified, never decoded;
- a :class:`~.port.RecordEvent` for a projection that ``reads_records``, when the message is of the current schema
  version of its type: checked and read as far as its Avro record;
- a :class:`~.port.ConsumedEvent` otherwise: the validated envelope, payload upcast to its current version;
- a ``str`` saying why the message cannot be decoded (the runner parks it).

A step that must see every payload before it is applied (opening sealed personal fields with a key store, for
instance) belongs here, in :func:`decode_message`, for records and envelopes alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventledger_events import envelope_from_kafka, record_from_kafka
from eventledger_projections.runtime.port import ConsumedEvent, LogMessage, PassedEvent, RecordEvent

Decoded = ConsumedEvent | RecordEvent | PassedEvent | str


def decode_batch(messages: Sequence[LogMessage], *, used: frozenset[str] | None, records: bool) -> list[Decoded]:
    """Each message of ``messages`` decoded (in order) for a projection that uses the types ``used`` (None: every
    type) and ``reads_records`` (``records``)."""
    out: list[Decoded] = []
    for message in messages:
        passed = None if used is None else PassedEvent.of(message, used)
        out.append(passed if passed is not None else decode_message(message, records=records))
    return out


def decode_message(message: LogMessage, *, records: bool) -> ConsumedEvent | RecordEvent | str:
    """One used message as a record (``records`` and the current schema version) or a validated envelope; or why it
    cannot be decoded (any failure: decoding is pure)."""
    try:
        if records:
            record = record_from_kafka(message.key, message.value, message.headers)
            if record is not None:
                return RecordEvent(record, message)
        return ConsumedEvent(envelope_from_kafka(message.key, message.value, message.headers), message)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
