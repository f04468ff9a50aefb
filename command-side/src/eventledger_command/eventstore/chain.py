"""Each event's link in its stream's hash chain (ADR 0025; the formats are ``eventledger_events.audit.hashing``).

The writer computes every event's content digest, the part of the event hash it knows before the append; the
store adds the position, the recorded time and the previous event's hash (PostgreSQL in ``append_events``, the
in-memory store in :func:`chained`), so that the chain is made at append under the stream's optimistic
concurrency and no global lock.
"""

from __future__ import annotations

from datetime import datetime

import orjson

from eventledger_command.eventstore.records import NewEvent
from eventledger_events.audit.hashing import GENESIS_HASH, content_digest, event_hash, to_micros


def digest_of(stream_id: str, stream_version: int, event: NewEvent) -> bytes:
    """The content digest of ``event`` appended at ``stream_version`` of ``stream_id``."""
    return content_digest(
        stream_id=stream_id,
        stream_version=stream_version,
        event_id=event.event_id,
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=event.occurred_at,
        actor=event.actor,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        payload=orjson.loads(event.payload),
    )


def chained(digest: bytes, *, position: int, recorded_at: datetime, previous: bytes | None) -> bytes:
    """The event hash of an event with ``digest`` after ``previous`` (``None``: the stream's first event)."""
    return event_hash(digest, position, to_micros(recorded_at), GENESIS_HASH if previous is None else previous)
