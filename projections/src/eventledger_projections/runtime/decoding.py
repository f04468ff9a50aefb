"""The one place where a consumed message becomes what a projection applies (ADR 0022, ADR 0037).

:func:`decode_batch` turns a batch of messages into, per message, one of:

- a :class:`~.port.PassedEvent` for a type the projection does not use (``event_types``): identified, never decoded;
- a :class:`~.port.RecordEvent` for a projection that ``reads_records``, when the message is of the current schema
  version of its type: checked and read as far as its Avro record;
- a :class:`~.port.ConsumedEvent` otherwise: the validated envelope, payload upcast to its current version;
- a ``str`` saying why the message cannot be decoded (the runner parks it).

Personal fields (ADR 0035) are opened here, for records and envelopes alike, by the runner's ``opener``: a value
that does not open (tampered, or sealed under a key the store never held) makes the message undecodable; a key store
that cannot answer is no fault of the message, and its error stops the batch uncommitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from eventledger_events import current_version, envelope_from_kafka, record_from_kafka
from eventledger_events.personal import SealError
from eventledger_projections.runtime.port import ConsumedEvent, LogMessage, PassedEvent, RecordEvent
from eventledger_runtime.personal import UnknownDataKey
from eventledger_runtime.personal.opener import Opener, PersonalDataOpener, unopened

Decoded = ConsumedEvent | RecordEvent | PassedEvent | str


def decode_batch(
    messages: Sequence[LogMessage], *, used: frozenset[str] | None, records: bool, opener: Opener = unopened
) -> list[Decoded]:
    """Each message of ``messages`` decoded (in order) for a projection that uses the types ``used`` (None: every
    type) and ``reads_records`` (``records``), its personal fields opened by ``opener``."""
    out: list[Decoded] = []
    for message in messages:
        passed = None if used is None else PassedEvent.of(message, used)
        out.append(passed if passed is not None else decode_message(message, records=records, opener=opener))
    return out


def decode_message(
    message: LogMessage, *, records: bool, opener: Opener = unopened
) -> ConsumedEvent | RecordEvent | str:
    """One used message as a record (``records`` and the current schema version) or a validated envelope, its
    personal fields opened; or why it cannot be decoded (any failure of the pure decoding; a value that does not
    open)."""
    try:
        record = record_from_kafka(message.key, message.value, message.headers) if records else None
        envelope = None if record is not None else envelope_from_kafka(message.key, message.value, message.headers)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    try:
        if record is not None:
            if isinstance(opener, PersonalDataOpener):
                data = opener.open_data(record.event_type, current_version(record.event_type), record.record)
                if data is not record.record:
                    record = dataclasses.replace(record, record=dict(data))
            return RecordEvent(record, message)
        assert envelope is not None
        return ConsumedEvent(opener(envelope), message)
    except (SealError, UnknownDataKey) as error:
        return f"{type(error).__name__}: {error}"
