"""The event store port. Both backends pass the same contract suite (tests/contract/test_event_store_contract.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from uuid import UUID

from eventledger_command.eventstore.records import (
    AppendRequest,
    AppendResult,
    IdempotencyClaim,
    RecordedEvent,
    Snapshot,
    StoredIdempotency,
    StoredResponse,
)

Responder = Callable[[AppendResult], StoredResponse]

DEFAULT_DEADLINE_LEASE = timedelta(seconds=30)
"""How long a claimed deadline is left to its claimer: far longer than expiring a batch takes, and than clocks of
replicas differ."""


class EventStore(ABC):
    """An append-only log of events, grouped in streams, with one global order.

    Contract:
    - ``append`` is atomic across every stream of the request: all events are recorded, or none.
    - Optimistic concurrency per stream: a write whose stream is not at ``expected_version`` raises
      :class:`~.errors.ConcurrencyConflict` and records nothing. Version 0 means "the stream must not exist".
    - Every recorded event gets a unique, increasing global ``position``; events of one append get consecutive
      positions in the order given. Positions may have holes (a failed append uses some up), never duplicates.
    - ``read_all`` never skips an event, even when transactions commit out of position order: it returns events
      in position order and only as far as no earlier position can still appear. It waits (up to ``wait``)
      for an undecided earlier position rather than step over it.
    - Idempotency: with a claim, the response computed by ``respond`` from the append's result is stored in the
      same transaction as the events. If the claim's key is already taken, nothing is written and
      :class:`~.errors.IdempotencyKeyTaken` carries the stored fingerprint and response.
    - Deadlines (pending-transfer expiries) are set and cleared in the same transaction as the events.
    - ``exclusive(streams)`` serialises its holders per stream, across every process sharing the store: while a
      thread holds it, no other holder of an overlapping set of streams runs, so a load-decide-append done inside
      meets no conflict from another holder. It does not replace the version check: a writer that does not hold it
      still conflicts as before. Holders of several streams never deadlock each other.
    """

    @abstractmethod
    def append(self, request: AppendRequest, respond: Responder | None = None) -> AppendResult: ...

    @abstractmethod
    def exclusive(self, stream_ids: Iterable[str]) -> AbstractContextManager[None]:
        """Hold the streams' locks for the block (see the class contract). Appends made in it are visible to
        other holders by the time it ends; on PostgreSQL they commit when it ends, or roll back if it raises."""

    @abstractmethod
    def read_stream(
        self, stream_id: str, *, after_version: int = 0, to_version: int | None = None, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The stream's events with version > ``after_version`` (and ≤ ``to_version``), in version order."""

    @abstractmethod
    def read_all(self, *, after_position: int = 0, limit: int = 1000, wait: float = 1.0) -> list[RecordedEvent]:
        """Up to ``limit`` events with position > ``after_position``, gap-safe (see the class contract)."""

    @abstractmethod
    def head_position(self) -> int:
        """The highest position that ``read_all`` can return now (0 for an empty store)."""

    @abstractmethod
    def stream_version(self, stream_id: str) -> int:
        """The stream's current version (0 when it does not exist)."""

    @abstractmethod
    def find_idempotency(self, scope: str, key: str) -> StoredIdempotency | None: ...

    @abstractmethod
    def remember_response(self, claim: IdempotencyClaim, response: StoredResponse) -> StoredIdempotency | None:
        """Record an answer that appended nothing (a refusal) under the claim's key.

        Returns None when recorded, or what is already stored when the key was taken first.
        """

    @abstractmethod
    def purge_idempotency(self, older_than: datetime) -> int:
        """Forget idempotency keys recorded before ``older_than``; returns how many."""

    @abstractmethod
    def claim_due_deadlines(
        self, now: datetime, limit: int = 100, lease: timedelta = DEFAULT_DEADLINE_LEASE
    ) -> list[tuple[UUID, datetime]]:
        """Claim up to ``limit`` pending transfers whose deadline is at or before ``now`` and that nobody holds a
        claim on at ``now``; answers them earliest first. Each stays claimed until ``now + lease``: concurrent
        callers (expiry workers in several command-service replicas) never get the same deadline while its claim
        runs, and a claimer that died frees it when the lease ends. The transfer's own append clears the deadline.
        """

    @abstractmethod
    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` unless a snapshot of a later version of the stream is already kept."""

    @abstractmethod
    def latest_snapshot(self, stream_id: str) -> Snapshot | None: ...

    def read_streams(self, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        return {stream_id: self.read_stream(stream_id) for stream_id in stream_ids}

    def close(self) -> None:  # noqa: B027 - backends without resources need not override
        """Release connections."""
