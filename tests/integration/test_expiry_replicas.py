"""Deadline expiry with several command-service replicas on one real PostgreSQL event store: each due deadline is
claimed by one worker only (``FOR UPDATE SKIP LOCKED`` and a lease), so every pending transfer expires once, with no
worker racing another for it."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.support.clock import Clock
from tests.support.eventstore import isolated_schema
from tests.support.servers import Endpoints

from eventledger_command.application.bus import CommandBus
from eventledger_command.application.commands import Deposit, ExpireTransfer, MakeTransfer, OpenAccount
from eventledger_command.bootstrap import Container, build
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import EventMetadata
from eventledger_runtime.settings import CommandSettings

REPLICAS = 3
TRANSFERS = 90


class CountingBus(CommandBus):
    """The real bus, counting the expiries it is asked for (a second attempt on one transfer would show here)."""

    def __init__(self, inner: CommandBus, asked: Counter[uuid.UUID], lock: threading.Lock) -> None:
        self._inner, self._asked, self._guard = inner, asked, lock

    def execute(self, command: Any, metadata: EventMetadata, **kwargs: Any) -> Any:
        if isinstance(command, ExpireTransfer):
            with self._guard:
                self._asked[command.transfer_id] += 1
        return self._inner.execute(command, metadata, **kwargs)


@pytest.fixture
def replicas(endpoints: Endpoints) -> Iterator[tuple[list[Container], Clock]]:
    clock = Clock(datetime.now(UTC))
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        containers = [
            build(CommandSettings(), store=PostgresEventStore(dsn, pool_size=4), clock=clock) for _ in range(REPLICAS)
        ]
        try:
            yield containers, clock
        finally:
            for container in containers:
                container.close()


def _metadata() -> EventMetadata:
    return EventMetadata(actor="test", correlation_id=uuid.uuid4())


@pytest.mark.timeout(180)
def test_each_due_deadline_is_expired_once_across_concurrent_workers(
    replicas: tuple[list[Container], Clock],
) -> None:
    containers, clock = replicas
    bus = containers[0].bus
    sources = [uuid.uuid4() for _ in range(10)]
    target = uuid.uuid4()
    for account_id in [*sources, target]:
        bus.execute(OpenAccount(account_id, "Holder", "EUR"), _metadata())
    for account_id in sources:
        bus.execute(Deposit(uuid.uuid4(), account_id, 1_000_000), _metadata())
    transfers = [uuid.uuid4() for _ in range(TRANSFERS)]
    for i, transfer_id in enumerate(transfers):
        command = MakeTransfer(transfer_id, sources[i % len(sources)], target, 100, pending=True, timeout_seconds=60)
        bus.execute(command, _metadata())
    clock.advance(61)

    asked: Counter[uuid.UUID] = Counter()
    guard = threading.Lock()
    workers = []
    for container in containers:
        container.expiry._bus = CountingBus(container.bus, asked, guard)
        workers.append(container.expiry)
    expired = [0] * REPLICAS
    start = threading.Barrier(REPLICAS)

    def work(index: int) -> None:
        start.wait()
        while done := workers[index].run_once(limit=5):  # 0: nothing left that another worker has not claimed
            expired[index] += done

    threads = [threading.Thread(target=work, args=(i,)) for i in range(REPLICAS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert sum(expired) == TRANSFERS
    assert set(asked) == set(transfers)
    assert max(asked.values()) == 1, "no deadline was handed to two workers"
    assert sum(1 for e in expired if e) >= 2, f"the work was shared: {expired}"
    expiries: Counter[str] = Counter()
    after = 0
    while events := containers[0].store.read_all(after_position=after, limit=10_000):  # pages stop at holes
        expiries.update(e.stream_id for e in events if e.event_type == "transfer.expired")
        after = events[-1].position
    assert len(expiries) == TRANSFERS
    assert set(expiries.values()) == {1}
    assert containers[0].store.claim_due_deadlines(clock(), TRANSFERS) == []
