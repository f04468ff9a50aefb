"""Audit reads, answered from the event store itself (never from read models): a stream's history, the global
log in pages, an account as it stood at a past moment or version, rebuilt by replaying its events, and the
bitemporal questions (ADR 0034): an account's balance at a value time as known at a recording time, and its
statement for a value period as known at a recording time.

Personal fields are opened on the way out (one ``opener``, the readers' :class:`PersonalDataOpener`): an auditor
reads the plaintext, or ``"[erased]"`` where the holder was erased."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventledger_command.domain import Account, AccountNotFoundError, account_stream_id, evolve_account
from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_command.eventstore.port import EventStore
from eventledger_command.eventstore.records import RecordedEvent
from eventledger_events import AccountCredited, AccountDebited, AccountEvent, AccountOpened, EventEnvelope

Opener = Callable[[EventEnvelope], EventEnvelope]
"""Opens an envelope's personal fields (:class:`~eventledger_runtime.personal.PersonalDataOpener`)."""


def _unopened(envelope: EventEnvelope) -> EventEnvelope:
    return envelope


def event_document(recorded: RecordedEvent, opener: Opener = _unopened) -> dict[str, Any]:
    """An event with its full metadata; the payload upcast to the current version (the stored one is named), its
    personal fields opened by ``opener``."""
    envelope = opener(to_envelope(recorded))
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


@dataclass(frozen=True)
class Movement:
    """One leg of a movement on an account as recorded: ``value_date`` is when it counts (its recording time for an
    event written before value dates existed), ``recorded_at`` when the ledger learnt it."""

    position: int
    recorded_at: datetime
    value_date: datetime
    backdated: bool
    transfer_id: uuid.UUID
    amount: int
    counterparty_account_id: uuid.UUID
    description: str


@dataclass(frozen=True)
class KnownAccount:
    """What the event store knew of an account at ``known_at``: its currency and every movement recorded by then."""

    account_id: uuid.UUID
    currency: str
    known_at: datetime | None
    movements: tuple[Movement, ...]
    last_position: int

    def balance_at(self, value_time: datetime) -> int:
        """Credits minus debits whose value date is at or before ``value_time``."""
        return sum(m.amount for m in self.movements if m.value_date <= value_time)

    def balance_before(self, value_time: datetime) -> int:
        """Credits minus debits whose value date is before ``value_time``."""
        return sum(m.amount for m in self.movements if m.value_date < value_time)

    def in_value_period(self, value_from: datetime, value_to: datetime) -> list[Movement]:
        """The movements with ``value_from <= value_date < value_to``, in value order (then log order)."""
        chosen = [m for m in self.movements if value_from <= m.value_date < value_to]
        return sorted(chosen, key=lambda m: (m.value_date, m.position))


class Auditor:
    def __init__(self, store: EventStore, opener: Opener = _unopened) -> None:
        self._store = store
        self.opener = opener

    def document(self, recorded: RecordedEvent) -> dict[str, Any]:
        return event_document(recorded, self.opener)

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
            payload = self.opener(to_envelope(recorded)).payload
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

    def known_account(self, account_id: uuid.UUID, *, known_at: datetime | None) -> KnownAccount:
        """Replay the account's events recorded at or before ``known_at`` (``None``: all of them) into its movements;
        ``AccountNotFoundError`` if it was not opened by then."""
        currency: str | None = None
        movements: list[Movement] = []
        last_position = 0
        for recorded in self._store.read_stream(account_stream_id(account_id)):
            if known_at is not None and recorded.recorded_at > known_at:
                continue  # recording times follow the log only roughly: a later event may have been recorded earlier
            payload = self.opener(to_envelope(recorded)).payload
            last_position = max(last_position, recorded.position)
            if isinstance(payload, AccountOpened):
                currency = payload.currency
            elif isinstance(payload, AccountCredited | AccountDebited):
                sign = 1 if isinstance(payload, AccountCredited) else -1
                movements.append(
                    Movement(
                        position=recorded.position,
                        recorded_at=recorded.recorded_at,
                        value_date=payload.value_date or recorded.recorded_at,
                        backdated=payload.backdated,
                        transfer_id=payload.transfer_id,
                        amount=sign * payload.amount,
                        counterparty_account_id=payload.counterparty_account_id,
                        description=payload.description,
                    )
                )
        if currency is None:
            when = f" as known at {known_at.isoformat()}" if known_at else ""
            raise AccountNotFoundError(f"no account {account_id}{when}", account_id=str(account_id))
        return KnownAccount(account_id, currency, known_at, tuple(movements), last_position)
