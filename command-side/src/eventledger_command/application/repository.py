"""Loads aggregates (snapshot + later events) and appends a decision atomically with the versions it read."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from eventledger_command.application.personal import PersonalDataSealer
from eventledger_command.application.states import RememberedStates
from eventledger_command.domain import (
    Account,
    CorruptHistoryError,
    Decision,
    SnapshotVersionError,
    Transfer,
    account_from_snapshot,
    account_stream_id,
    account_to_snapshot,
    evolve_account,
    evolve_transfer,
    transfer_from_snapshot,
    transfer_stream_id,
    transfer_to_snapshot,
)
from eventledger_command.eventstore.envelopes import to_new_event
from eventledger_command.eventstore.port import EventStore, Responder
from eventledger_command.eventstore.records import (
    AppendRequest,
    AppendResult,
    Deadline,
    IdempotencyClaim,
    RecordedEvent,
    Snapshot,
    StreamWrite,
)
from eventledger_events import (
    AccountEvent,
    DomainEvent,
    EventEnvelope,
    EventMetadata,
    TransferEvent,
    TransferExpired,
    TransferPendingCreated,
    TransferPendingPosted,
    TransferVoided,
    payload_from_json,
    stream_category,
)

S = TypeVar("S", Account, Transfer)
E = TypeVar("E", AccountEvent, TransferEvent)


@dataclass(frozen=True, slots=True)
class Loaded(Generic[S]):
    """A state and the stream version it reflects (0 and None when the stream does not exist)."""

    state: S | None
    version: int


class LedgerRepository:
    """Reads and writes accounts and transfers through the event store.

    Snapshots are taken every ``snapshot_interval`` events of a stream, after the append that crosses the
    interval, so that loading costs the same however long a stream grows. A snapshot is a cache: a missing or
    outdated one only means a longer replay. With ``remembered_states`` (a capacity, ADR 0038) the state each load and
    append produced is kept in the process too, and a load then reads only the events after it.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        snapshot_interval: int = 20,
        clock: Callable[[], datetime],
        sealer: PersonalDataSealer | None = None,
        remembered_states: int = 0,
    ) -> None:
        self._store = store
        self._interval = snapshot_interval
        self._clock = clock
        self._sealer = sealer
        self._states = RememberedStates(remembered_states)

    def forget(self, stream_id: str) -> None:
        """The next load of ``stream_id`` starts from its snapshot again (an erasure calls this)."""
        self._states.forget(stream_id)

    def exclusive(self, stream_ids: Iterable[str]) -> AbstractContextManager[None]:
        """Loads and saves inside the block meet no conflict from other holders of these streams' locks."""
        return self._store.exclusive(stream_ids)

    def load_account(self, account_id: uuid.UUID) -> Loaded[Account]:
        return self._load(account_stream_id(account_id), Account, account_from_snapshot, evolve_account, _account_event)

    def load_transfer(self, transfer_id: uuid.UUID) -> Loaded[Transfer]:
        return self._load(
            transfer_stream_id(transfer_id), Transfer, transfer_from_snapshot, evolve_transfer, _transfer_event
        )

    def _load(
        self,
        stream: str,
        kind: type[S],
        restore: Callable[[dict[str, Any]], S],
        evolve: Callable[[S | None, E], S],
        decode: Callable[[RecordedEvent, str], E],
    ) -> Loaded[S]:
        """The remembered state, else the latest snapshot (if any is usable), with the stream's later events folded
        onto it: the store is read on every load, so appends of other replicas are never missed."""
        remembered = self._states.get(stream)
        state: S | None
        if remembered is not None and isinstance(remembered.state, kind):
            state, version = remembered.state, remembered.version
        else:
            state, version = self._from_snapshot(stream, restore)
        events = self._store.read_stream(stream, after_version=version)
        for recorded in events:
            state = evolve(state, decode(recorded, stream))
        if events:
            version = events[-1].stream_version
        if state is not None:
            self._states.remember(stream, state, version)
        return Loaded(state, version)

    def _from_snapshot(self, stream: str, restore: Callable[[dict[str, Any]], S]) -> tuple[S | None, int]:
        snapshot = self._store.latest_snapshot(stream)
        if snapshot is None:
            return None, 0
        try:
            return restore(orjson.loads(snapshot.state)), snapshot.stream_version
        except SnapshotVersionError:
            return None, 0

    def save(
        self,
        decision: Decision,
        versions: dict[str, int],
        metadata: EventMetadata,
        *,
        idempotency: IdempotencyClaim | None = None,
        respond: Responder | None = None,
        states: dict[str, Account | Transfer | None] | None = None,
    ) -> AppendResult:
        """Append the decision; ``versions`` are the loaded versions of the streams that already existed. Its personal
        fields are sealed first (with a ``sealer``): the store and the snapshots taken here only see sealed values."""
        if self._sealer is not None:
            decision = self._sealer.seal(decision)
        now = self._clock()
        writes = []
        set_deadlines: list[Deadline] = []
        clear_deadlines: list[uuid.UUID] = []
        for stream_id, events in decision:
            expected = 0 if stream_id in decision.new_streams else versions[stream_id]
            envelopes = [
                EventEnvelope.new(
                    event,
                    event_id=uuid.uuid4(),
                    stream_id=stream_id,
                    stream_version=expected + offset + 1,
                    occurred_at=now,
                    metadata=metadata,
                )
                for offset, event in enumerate(events)
            ]
            writes.append(StreamWrite(stream_id, expected, tuple(to_new_event(e) for e in envelopes)))
            for event in events:
                if isinstance(event, TransferPendingCreated):
                    set_deadlines.append(Deadline(event.transfer_id, event.expires_at))
                elif isinstance(event, TransferPendingPosted | TransferVoided | TransferExpired):
                    clear_deadlines.append(event.transfer_id)
        try:
            result = self._store.append(
                AppendRequest(tuple(writes), tuple(set_deadlines), tuple(clear_deadlines), idempotency), respond
            )
        except BaseException:
            # The decision was taken on state the store refused (or may have refused): start afresh next time.
            for stream_id, _ in decision:
                self._states.forget(stream_id)
            raise
        self._after_append(decision, versions, result, states or {})
        return result

    def _after_append(
        self,
        decision: Decision,
        versions: dict[str, int],
        result: AppendResult,
        states: dict[str, Account | Transfer | None],
    ) -> None:
        """Remember each written stream's new state, and snapshot the streams whose append crossed the interval."""
        for stream_id, events in decision:
            new = stream_id in decision.new_streams
            before = 0 if new else versions[stream_id]
            after = result.stream_versions[stream_id]
            crossed = after // self._interval != before // self._interval
            if not new and stream_id not in states:
                continue  # the state the decision was taken on is unknown here
            state = _evolve_all(stream_id, states.get(stream_id), events)
            if state is None:
                continue
            self._states.remember(stream_id, state, after)
            if crossed:
                snapshot = account_to_snapshot(state) if isinstance(state, Account) else transfer_to_snapshot(state)
                self._store.save_snapshot(Snapshot(stream_id, after, orjson.dumps(snapshot)))


def _evolve_all(
    stream_id: str, state: Account | Transfer | None, events: Iterable[DomainEvent]
) -> Account | Transfer | None:
    if stream_category(stream_id) == "transfer":
        transfer_state = state if isinstance(state, Transfer) else None
        for event in events:
            transfer_state = evolve_transfer(transfer_state, _transfer_event(event, stream_id))
        return transfer_state
    account_state = state if isinstance(state, Account) else None
    for event in events:
        account_state = evolve_account(account_state, _account_event(event, stream_id))
    return account_state


def _account_event(event: DomainEvent | RecordedEvent, stream_id: str) -> AccountEvent:
    payload = _payload(event)
    if isinstance(payload, AccountEvent):
        return payload
    raise CorruptHistoryError(f"{stream_id} holds a {payload.full_name()} event, which is no account event")


def _transfer_event(event: DomainEvent | RecordedEvent, stream_id: str) -> TransferEvent:
    payload = _payload(event)
    if isinstance(payload, TransferEvent):
        return payload
    raise CorruptHistoryError(f"{stream_id} holds a {payload.full_name()} event, which is no transfer event")


def _payload(event: DomainEvent | RecordedEvent) -> DomainEvent:
    """The (upcast) payload; loading needs no envelope, and skipping it halves the cost of a replay."""
    if isinstance(event, DomainEvent):
        return event
    return payload_from_json(event.event_type, event.schema_version, event.payload)
