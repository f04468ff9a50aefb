"""Kafka topic names and message header names.

One topic per stream category, ``eventledger.<category>s.v<major>``, keyed by stream id so that each account's
and each transfer's events stay in order. The major version changes only for a change consumers cannot absorb
(a BACKWARD-incompatible schema, or a new encoding); compatible schema versions share a topic.

- ``v2`` (ADR 0028): values in the Confluent wire format, schema ids from the schema registry. The relay publishes
  here; the projectors and the stream job read here.
- ``v1`` (ADR 0006): values in Avro single-object encoding. No longer written; what was written stays readable
  (consumers decode both encodings) until the deprecation date below, when the topics may be deleted.
"""

from __future__ import annotations

from eventledger_events.streams import ACCOUNT_CATEGORY, TRANSFER_CATEGORY, stream_category

ACCOUNTS_TOPIC = "eventledger.accounts.v2"
TRANSFERS_TOPIC = "eventledger.transfers.v2"
V2_TOPICS: tuple[str, ...] = (ACCOUNTS_TOPIC, TRANSFERS_TOPIC)

ACCOUNTS_TOPIC_V1 = "eventledger.accounts.v1"
TRANSFERS_TOPIC_V1 = "eventledger.transfers.v1"
V1_TOPICS: tuple[str, ...] = (ACCOUNTS_TOPIC_V1, TRANSFERS_TOPIC_V1)
V1_READABLE_UNTIL = "2027-03-31"
"""The ``v1`` topics' deprecation period ends on this date (docs/asyncapi.yaml, ADR 0028)."""

TOPIC_BY_CATEGORY: dict[str, str] = {
    ACCOUNT_CATEGORY: ACCOUNTS_TOPIC,
    TRANSFER_CATEGORY: TRANSFERS_TOPIC,
}
ALL_TOPICS: tuple[str, ...] = V2_TOPICS
"""The topics the relay writes and the consumers read."""

# Header names. Values are UTF-8 text: UUIDs in canonical form, integers in decimal, instants in RFC 3339 UTC.
HEADER_EVENT_ID = "event-id"
HEADER_EVENT_TYPE = "event-type"
HEADER_SCHEMA_VERSION = "schema-version"
HEADER_STREAM_VERSION = "stream-version"
HEADER_POSITION = "position"
HEADER_OCCURRED_AT = "occurred-at"
HEADER_RECORDED_AT = "recorded-at"
HEADER_ACTOR = "actor"
HEADER_CORRELATION_ID = "correlation-id"
HEADER_CAUSATION_ID = "causation-id"
"""Absent when the event was caused by a client command rather than by another event."""
HEADER_TRACEPARENT = "traceparent"
"""W3C Trace Context; absent when the appending request was not traced."""
HEADER_TRACESTATE = "tracestate"
"""W3C Trace Context vendor state; optional."""
HEADER_EVENT_HASH = "event-hash"
"""The event's hash in its stream's chain, hex (ADR 0025): a copy of a topic can be checked against a tree head."""
HEADER_RELAY_TERM = "relay-term"
"""The term of the relay leader that published the message (ADR 0016); absent from a relay that runs alone."""


def topic_for(stream_id: str) -> str:
    """The topic of a stream's events, from the stream id's category prefix."""
    return TOPIC_BY_CATEGORY[stream_category(stream_id)]
