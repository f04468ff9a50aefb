"""The event store's log as a rebuild of this read model reads it: only the events that change it.

Two events in three of a ledger's log are account legs (credits, debits, holds) that no transfer document depends
on. Reading them, sending them over the wire and decoding them would be most of a rebuild's time, so this source
reads ``account.opened`` and the transfer events only (:data:`~.writer.RELEVANT_EVENT_TYPES`), in position order,
with the same SQL and decoding as the shared :class:`~eventledger_projections.rebuild.source.EventStoreSource`
(which reads every event). Bounds come from :class:`~.safehead.SafeHead`: every position at or below them is final,
so the filtered read misses nothing either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import psycopg

from eventledger_events import EventEnvelope, payload_from_json
from eventledger_projections.elasticsearch.writer import RELEVANT_EVENT_TYPES

_COLUMNS = (
    "position, stream_id, stream_version, event_id, event_type, schema_version, occurred_at, recorded_at, actor,"
    " correlation_id, causation_id, payload::text"
)
_WHERE = "position > %s AND position <= %s AND event_type = ANY(%s)"


class RelevantEventsSource:
    """Reads the events of ``event_types`` from the ``events`` table of ``dsn`` (its ``search_path``)."""

    def __init__(self, dsn: str, event_types: Sequence[str] = RELEVANT_EVENT_TYPES) -> None:
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._types = list(event_types)

    def read(self, after: int, upto: int, limit: int) -> list[EventEnvelope]:
        """Up to ``limit`` of the events with ``after < position <= upto``, in position order, upcast."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE {_WHERE} ORDER BY position LIMIT %s",
            [after, upto, self._types, limit],
            prepare=True,
        ).fetchall()
        return [_envelope(row) for row in rows]

    def count(self, after: int, upto: int) -> int:
        row = self._conn.execute(f"SELECT count(*) FROM events WHERE {_WHERE}", [after, upto, self._types]).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()


def _envelope(row: tuple[Any, ...]) -> EventEnvelope:
    """The row as an envelope. The payload is validated (and upcast) by its contract; the envelope's own checks
    (types of the columns, payload type against the stream) are those the event store's table and the write side
    already enforce, so it is constructed without repeating them; instants are normalised to UTC as the envelope's
    validator would."""
    payload = payload_from_json(row[4], row[5], row[11])
    return EventEnvelope.model_construct(
        event_id=row[3],
        event_type=payload.EVENT_TYPE,
        schema_version=payload.SCHEMA_VERSION,
        stream_id=row[1],
        stream_version=row[2],
        position=row[0],
        occurred_at=row[6].astimezone(UTC),
        recorded_at=row[7].astimezone(UTC),
        actor=row[8],
        correlation_id=row[9],
        causation_id=row[10],
        payload=payload,
    )
