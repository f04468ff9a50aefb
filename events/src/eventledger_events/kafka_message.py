"""An appended event as a Kafka message (topic, key, Avro value, headers), and back.

Key: the stream id (UTF-8), so a stream's events share a partition and keep their order. Value: the payload in
the Confluent wire format under the schema registry's id (given the producer's registered ids), else in Avro
single-object encoding; both decode. Headers: the envelope's metadata (see ``topics``), plus trace context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventledger_events.avro_codec import AvroSchemaCatalog, default_avro_catalog
from eventledger_events.envelope import EventEnvelope
from eventledger_events.errors import MalformedMessageError
from eventledger_events.registered_schemas import RegisteredSchemaIds
from eventledger_events.topics import (
    HEADER_ACTOR,
    HEADER_CAUSATION_ID,
    HEADER_CORRELATION_ID,
    HEADER_EVENT_HASH,
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_OCCURRED_AT,
    HEADER_POSITION,
    HEADER_RECORDED_AT,
    HEADER_SCHEMA_VERSION,
    HEADER_STREAM_VERSION,
    HEADER_TRACEPARENT,
    HEADER_TRACESTATE,
    topic_for,
)

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """Everything a producer needs to send one event."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers


def to_kafka_record(
    envelope: EventEnvelope,
    *,
    traceparent: str | None = None,
    tracestate: str | None = None,
    catalog: AvroSchemaCatalog | None = None,
    event_hash: bytes | None = None,
    schema_ids: RegisteredSchemaIds | None = None,
) -> KafkaRecord:
    """The Kafka message of an appended event; ``ValueError`` if it has no position yet. With ``schema_ids`` the
    value is in the Confluent wire format (``LookupError`` when its schema has no id there), else in Avro
    single-object encoding."""
    if envelope.position is None or envelope.recorded_at is None:
        raise ValueError(f"event {envelope.event_id} has not been appended: no position to publish")
    headers: list[tuple[str, str]] = [
        (HEADER_EVENT_ID, str(envelope.event_id)),
        (HEADER_EVENT_TYPE, envelope.event_type),
        (HEADER_SCHEMA_VERSION, str(envelope.schema_version)),
        (HEADER_STREAM_VERSION, str(envelope.stream_version)),
        (HEADER_POSITION, str(envelope.position)),
        (HEADER_OCCURRED_AT, envelope.occurred_at.isoformat()),
        (HEADER_RECORDED_AT, envelope.recorded_at.isoformat()),
        (HEADER_ACTOR, envelope.actor),
        (HEADER_CORRELATION_ID, str(envelope.correlation_id)),
    ]
    if envelope.causation_id is not None:
        headers.append((HEADER_CAUSATION_ID, str(envelope.causation_id)))
    if traceparent is not None:
        headers.append((HEADER_TRACEPARENT, traceparent))
    if tracestate is not None:
        headers.append((HEADER_TRACESTATE, tracestate))
    if event_hash is not None:
        headers.append((HEADER_EVENT_HASH, event_hash.hex()))
    topic = topic_for(envelope.stream_id)
    codec = catalog or default_avro_catalog()
    payload = envelope.payload
    if schema_ids is None:
        value = codec.encode(payload)
    else:
        value = codec.encode_wire(payload, schema_ids.id_for(topic, payload.EVENT_TYPE, payload.SCHEMA_VERSION))
    return KafkaRecord(
        topic=topic,
        key=envelope.stream_id.encode(),
        value=value,
        headers=tuple((name, text.encode()) for name, text in headers),
    )


def header_values(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Headers as text, last value wins; ``None`` values (allowed by Kafka clients) are skipped."""
    values: dict[str, str] = {}
    for name, raw in headers or ():
        if raw is not None:
            values[name] = raw.decode()
    return values


ENVELOPE_HEADERS = (
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_STREAM_VERSION,
    HEADER_POSITION,
    HEADER_OCCURRED_AT,
    HEADER_RECORDED_AT,
    HEADER_ACTOR,
    HEADER_CORRELATION_ID,
)
"""The headers no envelope can be rebuilt without (the schema version is the value's fingerprint's)."""

_ENVELOPE_HEADER_SET = frozenset(ENVELOPE_HEADERS)


@dataclass(frozen=True, slots=True)
class MessageIdentity:
    """What a consumed message is, as far as :func:`identify_from_kafka` checked it."""

    event_type: str
    position: int


def identify_from_kafka(
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
    *,
    catalog: AvroSchemaCatalog | None = None,
) -> MessageIdentity:
    """The event type and position of a consumed message, for a reader that will not use it: everything that can be
    checked without building the payload and the envelope is. It has a key; every envelope header is there and is
    text; the position and stream version are numbers; the value is one Avro record of a schema of the header's
    event type, with nothing after it. ``MalformedMessageError`` otherwise. What only the full decoding finds (a
    field's domain rules, a date or UUID that does not parse) is left to :func:`envelope_from_kafka`."""
    _, body, text = _checked(key, value, headers)
    entry, _ = (catalog or default_avro_catalog()).read(body)
    if entry.event_type != text[HEADER_EVENT_TYPE]:
        raise MalformedMessageError(f"header {HEADER_EVENT_TYPE} does not match the {entry.name} value")
    return MessageIdentity(entry.event_type, int(text[HEADER_POSITION]))


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A consumed event of the *current* schema version of its type, read as far as its Avro record (ADR 0037):
    no payload model, no envelope. ``record`` holds the payload's fields as Avro types them (UUIDs as text,
    instants as aware datetimes); ``recorded_at`` and ``occurred_at`` are the headers' ISO text (checked to parse,
    with a time zone), ``event_id`` the header's UUID text (checked)."""

    event_type: str
    stream_id: str
    stream_version: int
    position: int
    recorded_at: str
    record: dict[str, Any]
    event_id: str
    occurred_at: str


_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def record_from_kafka(
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
    *,
    catalog: AvroSchemaCatalog | None = None,
) -> EventRecord | None:
    """The event of a consumed message as its Avro record, for a reader that maps records straight to its own
    operations; ``None`` when the writer schema is an older version of the type (the caller decodes it fully with
    :func:`envelope_from_kafka`, which upcasts). The message is checked as :func:`identify_from_kafka` checks it,
    and its ids and instants parse; ``MalformedMessageError`` otherwise. Not checked: the payload's domain rules
    (an amount's sign, a currency's shape), which its writer validated: the relay publishes only appended events."""
    stream, body, text = _checked(key, value, headers)
    codec = catalog or default_avro_catalog()
    entry, record = codec.read(body)
    if entry.event_type != text[HEADER_EVENT_TYPE]:
        raise MalformedMessageError(f"header {HEADER_EVENT_TYPE} does not match the {entry.name} value")
    if not codec.is_current(entry):
        return None
    for name in (HEADER_EVENT_ID, HEADER_CORRELATION_ID):
        if _UUID_TEXT.fullmatch(text[name]) is None:
            raise MalformedMessageError(f"header {name} is not a UUID")
    recorded_at = text[HEADER_RECORDED_AT]
    try:
        moments = (datetime.fromisoformat(recorded_at), datetime.fromisoformat(text[HEADER_OCCURRED_AT]))
    except ValueError as error:
        raise MalformedMessageError(f"bad EventLedger message headers: {error}") from error
    if any(moment.tzinfo is None for moment in moments):
        raise MalformedMessageError("the recorded-at and occurred-at headers must name their time zone")
    return EventRecord(
        entry.event_type,
        stream.decode(errors="replace"),
        int(text[HEADER_STREAM_VERSION]),
        int(text[HEADER_POSITION]),
        recorded_at,
        record,
        text[HEADER_EVENT_ID],
        text[HEADER_OCCURRED_AT],
    )


def _checked(
    key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes | None]] | None
) -> tuple[bytes, bytes, dict[str, str]]:
    """The key, the value and the headers as text, once the checks every reader makes passed (see
    :func:`identify_from_kafka`)."""
    if key is None or value is None:
        raise MalformedMessageError("an EventLedger message always has a key and a value")
    text: dict[str, str] = {}
    try:
        for name, raw in headers or ():
            if raw is not None and name in _ENVELOPE_HEADER_SET:  # the others (trace context, hash) are not read
                text[name] = raw.decode()
    except UnicodeDecodeError as error:
        raise MalformedMessageError(f"a header is not UTF-8 text: {error}") from error
    missing = [name for name in ENVELOPE_HEADERS if name not in text]
    if missing:
        raise MalformedMessageError(f"missing headers: {', '.join(missing)}")
    position, stream_version = text[HEADER_POSITION], text[HEADER_STREAM_VERSION]
    if not (position.isdecimal() and stream_version.isdecimal()):
        raise MalformedMessageError("the position and the stream version headers must be numbers")
    return key, value, text


def envelope_from_kafka(
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
    *,
    catalog: AvroSchemaCatalog | None = None,
) -> EventEnvelope:
    """Rebuild the envelope of a consumed message; the payload is upcast to its current version.

    Raises ``MalformedMessageError`` (or another ``EventContractError``) for a message that is not ours, so a
    consumer can park it in its dead-letter topic.
    """
    if key is None or value is None:
        raise MalformedMessageError("an EventLedger message always has a key and a value")
    text = header_values(headers)
    payload = (catalog or default_avro_catalog()).decode(value)
    if text.get(HEADER_EVENT_TYPE) != payload.EVENT_TYPE:
        message = f"header {HEADER_EVENT_TYPE} does not match the {payload.EVENT_TYPE} value"
        raise MalformedMessageError(message)
    try:
        return EventEnvelope.model_validate(
            {
                "event_id": text[HEADER_EVENT_ID],  # UUIDs as text: pydantic's core parses them
                "event_type": payload.EVENT_TYPE,
                "schema_version": payload.SCHEMA_VERSION,
                "stream_id": key.decode(),
                "stream_version": int(text[HEADER_STREAM_VERSION]),
                "position": int(text[HEADER_POSITION]),
                "occurred_at": datetime.fromisoformat(text[HEADER_OCCURRED_AT]),
                "recorded_at": datetime.fromisoformat(text[HEADER_RECORDED_AT]),
                "actor": text[HEADER_ACTOR],
                "correlation_id": text[HEADER_CORRELATION_ID],
                "causation_id": text.get(HEADER_CAUSATION_ID),
                "payload": payload,
            }
        )
    except (KeyError, ValueError) as error:
        raise MalformedMessageError(f"bad EventLedger message headers: {error}") from error
