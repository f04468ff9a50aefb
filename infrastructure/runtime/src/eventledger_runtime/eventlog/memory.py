"""The event-log reader over a log held in memory: for unit tests, and whatever runs without PostgreSQL.

Appends take a lock and commit at once, in position order, so no position is ever undecided: the tail read and the
safe head need no waiting here.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Collection
from datetime import UTC, datetime

from eventledger_runtime.eventlog.port import Deposed, EventLogReader
from eventledger_runtime.eventlog.records import LoggedEvent


class InMemoryEventLog(EventLogReader):
    def __init__(self) -> None:
        self._events: list[LoggedEvent] = []
        self._positions: list[int] = []
        self._checkpoints: dict[str, int] = {}
        self._terms: dict[str, int] = {}
        self._lock = threading.Lock()
        self._next_position = 1

    def append(
        self,
        stream_id: str,
        stream_version: int,
        event_type: str,
        payload: str,
        *,
        schema_version: int = 1,
        actor: str = "system",
        event_id: uuid.UUID | None = None,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> LoggedEvent:
        """Record one event at the next position; answers it as recorded."""
        now = datetime.now(UTC)
        with self._lock:
            event = LoggedEvent(
                position=self._next_position,
                stream_id=stream_id,
                stream_version=stream_version,
                event_id=event_id or uuid.uuid4(),
                event_type=event_type,
                schema_version=schema_version,
                occurred_at=occurred_at or now,
                recorded_at=now,
                actor=actor,
                correlation_id=correlation_id or uuid.uuid4(),
                causation_id=causation_id,
                payload=payload,
            )
            self._events.append(event)
            self._positions.append(event.position)
            self._next_position += 1
        return event

    def skip_position(self) -> None:
        """Use up a position without recording anything, as a failed append does."""
        with self._lock:
            self._next_position += 1

    def _between(self, after: int, upto: int) -> list[LoggedEvent]:
        with self._lock:
            start = bisect.bisect_right(self._positions, after)
            end = bisect.bisect_right(self._positions, upto)
            return self._events[start:end]

    def read(self, after: int = 0, *, limit: int = 1000, wait: float = 1.0) -> list[LoggedEvent]:
        return self._between(after, 2**63 - 1)[:limit]

    def read_range(
        self, after: int, upto: int, *, limit: int, event_types: Collection[str] | None = None
    ) -> list[LoggedEvent]:
        events = self._between(after, upto)
        if event_types is not None:
            wanted = set(event_types)
            events = [event for event in events if event.event_type in wanted]
        return events[:limit]

    def count(self, after: int, upto: int, *, event_types: Collection[str] | None = None) -> int:
        return len(self.read_range(after, upto, limit=2**63 - 1, event_types=event_types))

    def head_position(self) -> int:
        with self._lock:
            return self._positions[-1] if self._positions else 0

    def safe_head(self, *, timeout: float = 60.0) -> int:
        return self.head_position()

    def checkpoint(self, name: str) -> int:
        with self._lock:
            return self._checkpoints.get(name, 0)

    def save_checkpoint(self, name: str, position: int, *, term: int | None = None) -> None:
        with self._lock:
            if term is not None and self._terms.get(name) != term:
                raise Deposed(name, term)
            self._checkpoints[name] = max(position, self._checkpoints.get(name, 0))

    def take_office(self, name: str) -> tuple[int, int]:
        with self._lock:
            term = self._terms.get(name, 0) + 1
            self._terms[name] = term
            self._checkpoints.setdefault(name, 0)
            return term, self._checkpoints[name]

    def rewind_checkpoint(self, name: str, position: int = 0) -> int:
        with self._lock:
            was = self._checkpoints.get(name, 0)
            self._terms[name] = self._terms.get(name, 0) + 1
            self._checkpoints[name] = position
            return was
