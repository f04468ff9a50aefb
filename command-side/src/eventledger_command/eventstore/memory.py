"""In-memory event store: a real implementation for unit tests and the in-process demo, not a mock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventledger_command.eventstore.chain import chained, digest_of
from eventledger_command.eventstore.errors import ConcurrencyConflict, IdempotencyKeyTaken
from eventledger_command.eventstore.locks import StreamLocks, stream_lock_keys
from eventledger_command.eventstore.port import DEFAULT_DEADLINE_LEASE, EventStore, Responder
from eventledger_command.eventstore.records import (
    AppendRequest,
    AppendResult,
    IdempotencyClaim,
    RecordedEvent,
    Snapshot,
    StoredIdempotency,
    StoredResponse,
)
from eventledger_command.eventstore.telemetry import append_span, note_result
from eventledger_runtime import tracing


class InMemoryEventStore(EventStore):
    def __init__(self, *, recording_clock: Callable[[], datetime] | None = None) -> None:
        """``recording_clock`` gives each append's ``recorded_at`` (default: the wall clock), as in
        :class:`~eventledger_command.eventstore.postgres.PostgresEventStore`."""
        self._recording_clock = recording_clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._idempotency: dict[tuple[str, str], tuple[StoredIdempotency, datetime]] = {}
        self._deadlines: dict[UUID, datetime] = {}
        self._claimed_until: dict[UUID, datetime] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._stream_locks = StreamLocks()

    def exclusive(self, stream_ids: Iterable[str]) -> AbstractContextManager[None]:
        # One process holds the whole store, so the in-process locks are the whole contract.
        return self._stream_locks.hold(stream_lock_keys(stream_ids))

    def append(self, request: AppendRequest, respond: Responder | None = None) -> AppendResult:
        if not tracing.enabled():
            return self._append(request, respond, None)
        with append_span(request, "memory") as span:
            result = self._append(request, respond, tracing.current_traceparent())
            note_result(span, result)
            return result

    def _append(self, request: AppendRequest, respond: Responder | None, trace_context: str | None) -> AppendResult:
        with self._lock:
            claim = request.idempotency
            if claim is not None and (claim.scope, claim.key) in self._idempotency:
                raise IdempotencyKeyTaken(self._idempotency[(claim.scope, claim.key)][0])
            for write in request.writes:
                if len(self._streams.get(write.stream_id, ())) != write.expected_version:
                    raise ConcurrencyConflict(write.stream_id, write.expected_version)
            now = self._recording_clock()
            recorded: list[RecordedEvent] = []
            versions: dict[str, int] = {}
            position = len(self._log)
            for write in request.writes:
                version = write.expected_version
                stream = self._streams.get(write.stream_id, [])
                previous = stream[-1].event_hash if stream else None
                for event in write.events:
                    position += 1
                    version += 1
                    digest = digest_of(write.stream_id, version, event)
                    link = chained(digest, position=position, recorded_at=now, previous=previous)
                    recorded.append(
                        event.recorded(
                            position=position,
                            stream_id=write.stream_id,
                            stream_version=version,
                            recorded_at=now,
                            event_hash=link,
                            trace_context=trace_context,
                        )
                    )
                    previous = link
                versions[write.stream_id] = version
            result = AppendResult(tuple(e.position for e in recorded), versions)
            # Compute everything that can fail before changing any state: the append stays all-or-nothing.
            response = respond(result) if (claim is not None and respond is not None) else None
            for recorded_event in recorded:
                self._log.append(recorded_event)
                self._streams.setdefault(recorded_event.stream_id, []).append(recorded_event)
            if claim is not None and response is not None:
                self._idempotency[(claim.scope, claim.key)] = (
                    StoredIdempotency(claim.request_fingerprint, response),
                    now,
                )
            for transfer_id in request.clear_deadlines:
                self._deadlines.pop(transfer_id, None)
                self._claimed_until.pop(transfer_id, None)
            for deadline in request.set_deadlines:
                self._deadlines[deadline.transfer_id] = deadline.due_at
            return result

    def read_stream(
        self, stream_id: str, *, after_version: int = 0, to_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        with self._lock:
            events = self._streams.get(stream_id, [])[after_version:to_version]
        return events[:limit] if limit is not None else events

    def read_all(self, *, after_position: int = 0, limit: int = 1000, wait: float = 1.0) -> list[RecordedEvent]:
        with self._lock:
            return self._log[after_position : after_position + limit]

    def head_position(self) -> int:
        with self._lock:
            return len(self._log)

    def stream_version(self, stream_id: str) -> int:
        with self._lock:
            return len(self._streams.get(stream_id, ()))

    def find_idempotency(self, scope: str, key: str) -> StoredIdempotency | None:
        with self._lock:
            found = self._idempotency.get((scope, key))
        return found[0] if found else None

    def remember_response(self, claim: IdempotencyClaim, response: StoredResponse) -> StoredIdempotency | None:
        with self._lock:
            found = self._idempotency.get((claim.scope, claim.key))
            if found is not None:
                return found[0]
            self._idempotency[(claim.scope, claim.key)] = (
                StoredIdempotency(claim.request_fingerprint, response),
                datetime.now(UTC),
            )
        return None

    def purge_idempotency(self, older_than: datetime) -> int:
        with self._lock:
            old = [k for k, (_, recorded_at) in self._idempotency.items() if recorded_at < older_than]
            for k in old:
                del self._idempotency[k]
        return len(old)

    def claim_due_deadlines(
        self, now: datetime, limit: int = 100, lease: timedelta = DEFAULT_DEADLINE_LEASE
    ) -> list[tuple[UUID, datetime]]:
        with self._lock:
            due = sorted(
                (at, tid)
                for tid, at in self._deadlines.items()
                if at <= now and self._claimed_until.get(tid, now) <= now
            )[:limit]
            for _, tid in due:
                self._claimed_until[tid] = now + lease
        return [(tid, at) for at, tid in due]

    def save_snapshot(self, snapshot: Snapshot) -> None:
        with self._lock:
            kept = self._snapshots.get(snapshot.stream_id)
            if kept is None or kept.stream_version < snapshot.stream_version:
                self._snapshots[snapshot.stream_id] = snapshot

    def latest_snapshot(self, stream_id: str) -> Snapshot | None:
        with self._lock:
            return self._snapshots.get(stream_id)
