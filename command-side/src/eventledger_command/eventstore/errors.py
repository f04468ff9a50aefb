"""Failures of an append that callers act on."""

from __future__ import annotations

from eventledger_command.eventstore.records import StoredIdempotency


class EventStoreError(Exception):
    """Base of the event store's own errors."""


class ConcurrencyConflict(EventStoreError):
    """A stream was not at the expected version: someone else appended first. Nothing was written."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id!r} is no longer at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


class IdempotencyKeyTaken(EventStoreError):
    """The idempotency key was already used (possibly by a concurrent request). Nothing was written."""

    def __init__(self, existing: StoredIdempotency) -> None:
        super().__init__("idempotency key already used")
        self.existing = existing
