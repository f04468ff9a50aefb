"""Audit reads, answered from the event store itself (never from read models): a stream's history, the global
log in pages, and an account as it stood at a past moment or version, rebuilt by replaying its events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventledger_command.domain import Account, AccountNotFoundError, account_stream_id, evolve_account
from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_command.eventstore.port import EventStore
from eventledger_command.eventstore.records import RecordedEvent
from eventledger_events import AccountEvent


def event_document(recorded: RecordedEvent) -> dict[str, Any]:
    """An event with its full metadata; the payload upcast to the current version (the stored one is named)."""
    envelope = to_envelope(recorded)
    return {
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
        "schema_version": envelope.schema_version,
        "stored_schema_version": recorded.schema_version,
        "stream_id": envelope.stream_id,
        "stream_version": envelope.stream_version,
        "position": envelope.position,
        "occurred_at": envelope.occurred_at.isoformat(),
        "recorded_at": recorded.recorded_at.isoformat(),
        "actor": envelope.actor,
        "correlation_id": str(envelope.correlation_id),
        "causation_id": str(envelope.causation_id) if envelope.causation_id else None,
        "payload": envelope.payload.model_dump(mode="json"),
    }


@dataclass(frozen=True)
class AccountAsOf:
    account: Account
    version: int
    as_of: datetime


class Auditor:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    def stream_history(self, stream_id: str, from_version: int, limit: int) -> list[RecordedEvent]:
        return self._store.read_stream(stream_id, after_version=from_version - 1, limit=limit)

    def global_log(self, from_position: int, limit: int) -> list[RecordedEvent]:
        return self._store.read_all(after_position=from_position - 1, limit=limit)

    def account_state(self, account_id: uuid.UUID, *, at: datetime | None, version: int | None) -> AccountAsOf:
        """Replay the account's events up to ``version`` or up to those recorded at or before ``at``."""
        events = self._store.read_stream(account_stream_id(account_id), to_version=version)
        state: Account | None = None
        last: RecordedEvent | None = None
        for recorded in events:
            if at is not None and recorded.recorded_at > at:
                break
            payload = to_envelope(recorded).payload
            if not isinstance(payload, AccountEvent):
                raise TypeError(f"{recorded.stream_id} holds a {payload.full_name()} event")
            state = evolve_account(state, payload)
            last = recorded
        if state is None or last is None:
            when = f"at {at.isoformat()}" if at else f"at version {version}"
            raise AccountNotFoundError(f"account {account_id} did not exist {when}", account_id=str(account_id))
        if version is not None and last.stream_version < version:  # a version not reached yet is no state at all
            raise AccountNotFoundError(
                f"account {account_id} has no version {version} (its last is {last.stream_version})",
                account_id=str(account_id),
            )
        return AccountAsOf(state, last.stream_version, last.recorded_at)
