"""Remembered stream states (ADR 0038): a load starts from the last state this process saw, reads only the events
after it, and never misses another replica's appends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from eventledger_command.application.bus import CommandBus
from eventledger_command.application.commands import Deposit, OpenAccount
from eventledger_command.application.erasure import HolderEraser
from eventledger_command.application.repository import LedgerRepository
from eventledger_command.application.states import RememberedStates
from eventledger_command.bootstrap import build
from eventledger_command.domain import Account, ValueDatePolicy, account_stream_id, deposit
from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_command.eventstore.memory import InMemoryEventStore
from eventledger_command.eventstore.records import RecordedEvent
from eventledger_events import EventMetadata
from eventledger_runtime.settings import CommandSettings

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
META = EventMetadata(actor="user:ada", correlation_id=uuid.uuid4())


class CountingStore(InMemoryEventStore):
    """Counts the events each read returns and the snapshots asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.events_read = 0
        self.snapshot_reads = 0

    def read_stream(self, stream_id: str, *args: Any, **kwargs: Any) -> list[RecordedEvent]:
        events = super().read_stream(stream_id, *args, **kwargs)
        self.events_read += len(events)
        return events

    def latest_snapshot(self, stream_id: str) -> Any:
        self.snapshot_reads += 1
        return super().latest_snapshot(stream_id)


def _repository(store: InMemoryEventStore, remembered: int = 100) -> LedgerRepository:
    return LedgerRepository(store, snapshot_interval=1000, clock=lambda: NOW, remembered_states=remembered)


def _open_and_deposit(bus: CommandBus, deposits: int) -> uuid.UUID:
    account = uuid.uuid4()
    bus.execute(OpenAccount(account, "Ada", "EUR"), META)
    for _ in range(deposits):
        bus.execute(Deposit(uuid.uuid4(), account, 10), META)
    return account


def _account(repository: LedgerRepository, account: uuid.UUID) -> Account:
    state = repository.load_account(account).state
    assert state is not None
    return state


def test_a_load_after_an_append_replays_nothing() -> None:
    store = CountingStore()
    repository = _repository(store)
    account = _open_and_deposit(CommandBus(repository, lambda: NOW), 5)
    store.events_read = store.snapshot_reads = 0
    loaded = repository.load_account(account)
    assert loaded.version == 6
    assert _account(repository, account).balance == 50
    assert (store.events_read, store.snapshot_reads) == (0, 0)


def test_without_remembered_states_a_load_replays_the_stream() -> None:
    store = CountingStore()
    repository = _repository(store, remembered=0)
    account = _open_and_deposit(CommandBus(repository, lambda: NOW), 5)
    store.events_read = 0
    assert repository.load_account(account).version == 6
    assert store.events_read == 6


def test_a_second_replica_sees_the_first_ones_appends_and_reads_only_them() -> None:
    store = CountingStore()
    first, second = _repository(store), _repository(store)
    account = _open_and_deposit(CommandBus(first, lambda: NOW), 1)
    assert _account(second, account).balance == 10  # second now remembers version 2
    CommandBus(first, lambda: NOW).execute(Deposit(uuid.uuid4(), account, 5), META)
    store.events_read = 0
    loaded = second.load_account(account)
    assert (loaded.version, _account(second, account).balance) == (3, 15)
    assert store.events_read == 1
    CommandBus(second, lambda: NOW).execute(Deposit(uuid.uuid4(), account, 1), META)
    assert _account(first, account).balance == 16


def test_a_failed_append_forgets_the_streams_it_wrote() -> None:
    store = CountingStore()
    repository = _repository(store)
    bus = CommandBus(repository, lambda: NOW)
    account = _open_and_deposit(bus, 2)
    loaded = repository.load_account(account)
    CommandBus(_repository(store), lambda: NOW).execute(Deposit(uuid.uuid4(), account, 1), META)
    assert loaded.state is not None
    decision = deposit(
        loaded.state, transfer_id=uuid.uuid4(), amount=1, description="", dating=ValueDatePolicy().date(None, now=NOW)
    )
    stream = account_stream_id(account)
    with pytest.raises(ConcurrencyConflict):
        repository.save(decision, {stream: loaded.version}, META, states={stream: loaded.state})
    store.snapshot_reads = 0
    assert repository.load_account(account).version == 4
    assert store.snapshot_reads == 1, "the load after the conflict starts from the store again"


def test_remembered_states_evict_the_least_recently_used_and_keep_the_newest_version() -> None:
    states = RememberedStates(capacity=2)
    a, b, c = (Account.__new__(Account) for _ in range(3))
    states.remember("account-a", a, 3)
    states.remember("account-b", b, 1)
    assert states.get("account-a") is not None  # a is now the most recently used
    states.remember("account-c", c, 1)
    assert states.get("account-b") is None
    states.remember("account-a", b, 2)  # an older report arriving late is ignored
    remembered = states.get("account-a")
    assert remembered is not None
    assert (remembered.state, remembered.version) == (a, 3)
    states.forget("account-a")
    assert states.get("account-a") is None
    assert len(states) == 1


def test_a_capacity_of_zero_remembers_nothing_and_a_negative_one_is_refused() -> None:
    states = RememberedStates(capacity=0)
    states.remember("account-a", Account.__new__(Account), 1)
    assert len(states) == 0
    with pytest.raises(ValueError, match="at least 0"):
        RememberedStates(capacity=-1)


def test_an_erasure_forgets_the_remembered_state() -> None:
    store = CountingStore()
    container = build(CommandSettings(store="memory"), store=store, clock=lambda: NOW)
    account = _open_and_deposit(container.bus, 1)
    HolderEraser(container.repository, container.keys, container.sealer).erase(account, reason="asked", metadata=META)
    store.snapshot_reads = 0
    assert _account(container.repository, account).erased
    assert store.snapshot_reads == 1, "the load after an erasure starts from the store again"
