"""The event store read straight into apply-script operations, page by page, for rebuilds.

The rebuild's time goes into decoding: building validated envelopes costs several times what Redis spends applying
them. These rows were validated when they were appended (the command side writes only valid payloads, and the
table refuses changes), so an event of its type's *current* schema version is mapped from its stored JSON with the
same table as the live path (:func:`~eventledger_projections.redis.operations.operation_of`). An older version, or
a row the shortcut cannot read, takes the full path (upcast, validated envelope), which raises for a bad event.

Like :class:`~eventledger_projections.rebuild.source.EventStoreSource`, it reads only ``position <= upto`` where
``upto`` is settled (the relay's checkpoint or a position published to Kafka), in position order: nothing is
skipped. The next page is read in a thread while the caller applies the current one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import orjson
import psycopg

from eventledger_events import EventEnvelope, current_version, payload_from_json
from eventledger_projections.redis.operations import Operation, operation, operation_of

log = logging.getLogger(__name__)

_READ = """
SELECT position, stream_id, stream_version, event_type, schema_version, recorded_at, payload::text,
       event_id, occurred_at, actor, correlation_id, causation_id
FROM events WHERE position > %s AND position <= %s ORDER BY position LIMIT %s
"""


@dataclass
class Page:
    """The operations of up to ``limit`` events; ``last`` is the highest position read (0: the range is empty)."""

    operations: list[Operation] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    last: int = 0
    events: int = 0


class OperationPages:
    """Pages of operations from the ``events`` table of the event store at ``dsn``."""

    def __init__(self, dsn: str) -> None:
        self._conn = psycopg.connect(dsn, autocommit=True)

    def read(self, after: int, upto: int, limit: int) -> Page:
        """The events with ``after < position <= upto``, up to ``limit``, in position order."""
        rows = self._conn.execute(_READ, [after, upto, limit], prepare=True).fetchall()
        page = Page(events=len(rows), last=rows[-1][0] if rows else 0)
        for row in rows:
            try:
                page.operations.append(row_operation(row))
            except Exception as error:
                page.refused.append(f"{row[3]}.v{row[4]} at position {row[0]}: {type(error).__name__}: {error}")
        return page

    def pages(self, after: int, upto: int, limit: int) -> Iterator[Page]:
        """Every page of ``after < position <= upto``; the next one is read while the caller works on this one."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-pages") as reader:
            pending = reader.submit(self.read, after, upto, limit)
            while True:
                page = pending.result()
                if page.events == 0:
                    return
                if page.last < upto:
                    pending = reader.submit(self.read, page.last, upto, limit)
                yield page
                if page.last >= upto:
                    return

    def close(self) -> None:
        self._conn.close()


def row_operation(row: tuple[Any, ...]) -> Operation:
    """The operation of one stored event (see the module's note on trusting the stored JSON)."""
    position, stream_id, stream_version, event_type, schema_version, recorded_at, payload = row[:7]
    at = recorded_at.astimezone(UTC).isoformat()
    if schema_version == current_version(event_type):
        data = orjson.loads(payload)
        try:
            return operation_of(event_type, stream_id, stream_version, position, at, data.__getitem__)
        except (KeyError, TypeError) as error:
            log.warning("event at position %s needs the full decode: %s", position, error)
    return operation(_envelope(row))


def _envelope(row: tuple[Any, ...]) -> EventEnvelope:
    position, stream_id, stream_version, event_type, schema_version, recorded_at, payload = row[:7]
    event_id, occurred_at, actor, correlation_id, causation_id = row[7:]
    decoded = payload_from_json(event_type, schema_version, payload)
    return EventEnvelope(
        event_id=event_id,
        event_type=decoded.EVENT_TYPE,
        schema_version=decoded.SCHEMA_VERSION,
        stream_id=stream_id,
        stream_version=stream_version,
        position=position,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        actor=actor,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=decoded,
    )
