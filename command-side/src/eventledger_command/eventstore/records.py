"""What goes into the event store and what comes out of it.

The store is serialisation-agnostic: payloads go in as bytes (JSON written by :mod:`eventledger_events`) and come
back as the stored JSON text; metadata travels in typed columns so that auditors can query it without decoding
payloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from uuid import UUID

from eventledger_runtime.eventlog import LoggedEvent


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. Its position, stream version and recorded time are given by the store.

    ``payload`` is a UTF-8 JSON document. A backend may store it re-formatted (PostgreSQL keeps ``jsonb`` so that
    auditors can query it) but never changes what it means.
    """

    event_id: UUID
    event_type: str
    schema_version: int
    occurred_at: datetime
    actor: str
    correlation_id: UUID
    causation_id: UUID | None
    payload: bytes

    def recorded(
        self,
        *,
        position: int,
        stream_id: str,
        stream_version: int,
        recorded_at: datetime,
        event_hash: bytes | None = None,
        trace_context: str | None = None,
    ) -> RecordedEvent:
        """The event as the store holds it once appended: the same fields, plus where, when, and its chain link."""
        kept = {column.name: getattr(self, column.name) for column in fields(NewEvent)}
        kept["payload"] = self.payload.decode()
        return RecordedEvent(
            position=position,
            stream_id=stream_id,
            stream_version=stream_version,
            recorded_at=recorded_at,
            event_hash=event_hash,
            trace_context=trace_context,
            **kept,
        )


RecordedEvent = LoggedEvent
"""An event as the store holds it: everything of :class:`NewEvent` plus where and when it was recorded.

The runtime kit's :class:`~eventledger_runtime.eventlog.LoggedEvent`, the one record of a logged event that every
reader of the log shares; its payload is the stored JSON as text.
"""


@dataclass(frozen=True, slots=True)
class StreamWrite:
    """Events for one stream, valid only if the stream is exactly at ``expected_version`` (0: does not exist)."""

    stream_id: str
    expected_version: int
    events: tuple[NewEvent, ...]


@dataclass(frozen=True, slots=True)
class Deadline:
    """A pending transfer that expires at ``due_at`` unless settled first (kept in the same transaction)."""

    transfer_id: UUID
    due_at: datetime


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The answer first given to an idempotent command, replayed verbatim for a repeat of the same request."""

    status_code: int
    body: bytes


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """An ``Idempotency-Key`` (scoped by the caller) and the fingerprint of the request that first used it."""

    scope: str
    key: str
    request_fingerprint: str


@dataclass(frozen=True, slots=True)
class StoredIdempotency:
    request_fingerprint: str
    response: StoredResponse


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Positions given to the appended events, in the order they were passed, and each stream's new version."""

    positions: tuple[int, ...]
    stream_versions: dict[str, int] = field(default_factory=dict)

    @property
    def last_position(self) -> int:
        return self.positions[-1]


@dataclass(frozen=True, slots=True)
class Snapshot:
    stream_id: str
    stream_version: int
    state: bytes


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """One atomic append: several streams, the deadlines it sets or clears, and an optional idempotency claim."""

    writes: tuple[StreamWrite, ...]
    set_deadlines: tuple[Deadline, ...] = ()
    clear_deadlines: tuple[UUID, ...] = ()
    idempotency: IdempotencyClaim | None = None
