"""PRODUCT.md §6 item 7: loading an aggregate costs the same for 10 events as for 100,000 (snapshots): ratio ≤ 2.

Three accounts on PostgreSQL: 10 events (no snapshot yet), 100,000 events (a snapshot at 100,000), and the worst
case between two snapshots: a snapshot plus interval - 1 events to replay. Loads are timed in alternated
rounds; the figures are loads per second and the ratios of the 10-event load's rate to the others'.

Run with the servers up: ``make up && .venv/bin/python -m bench.bench_aggregate_load``.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import UTC, datetime

import orjson
from tests.support.ledger import credit, open_account

from bench._common import compare, scratch_database, timed_rate
from eventledger_command.application.repository import LedgerRepository
from eventledger_command.domain import account_to_snapshot
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest, Snapshot, StreamWrite
from eventledger_events import account_stream_id
from eventledger_infra.settings import Settings
from eventledger_runtime.settings import CommandSettings

SNAPSHOT_INTERVAL = CommandSettings().snapshot_interval
WORST = f"load {100_000 + SNAPSHOT_INTERVAL - 1:,} events (worst)"
ROUNDS = 5
SECONDS = 1.5


def account_with(
    store: PostgresEventStore, repository: LedgerRepository, events: int, snapshot_at: int | None
) -> uuid.UUID:
    """An account stream of ``events`` events; a snapshot at version ``snapshot_at`` like the repository takes."""
    account_id = uuid.uuid4()
    store.append(AppendRequest((open_account(account_id),)))
    version = 1
    while version < events:
        count = min(1000, events - version)
        if snapshot_at is not None and version < snapshot_at:
            count = min(count, snapshot_at - version)
        batch = [credit(account_id, version + i, amount=1, balance_after=version + i).events[0] for i in range(count)]
        store.append(AppendRequest((StreamWrite(account_stream_id(account_id), version, tuple(batch)),)))
        version += count
        if snapshot_at is not None and version == snapshot_at:
            state = repository.load_account(account_id).state
            assert state is not None
            store.save_snapshot(
                Snapshot(account_stream_id(account_id), version, orjson.dumps(account_to_snapshot(state)))
            )
    return account_id


def load_rate(repository: LedgerRepository, account_id: uuid.UUID, expected_version: int) -> float:
    def run() -> int:
        loads = 0
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            assert repository.load_account(account_id).version == expected_version
            loads += 1
        return loads

    return timed_rate(run)


def main() -> None:
    base = Settings.from_env()
    with scratch_database(base) as database:
        store = PostgresEventStore(dataclasses.replace(base, pg_database=database).postgres_dsn)
        repository = LedgerRepository(store, snapshot_interval=SNAPSHOT_INTERVAL, clock=lambda: datetime.now(UTC))
        short = account_with(store, repository, 10, None)
        long = account_with(store, repository, 100_000, 100_000)
        between = account_with(store, repository, 100_000 + SNAPSHOT_INTERVAL - 1, 100_000)
        print(f"aggregate load benchmark: {SECONDS} s per run, {ROUNDS} alternated rounds")
        # Cost ratio = time per long load / time per 10-event load = rate of the 10-event load / rate of the long one.
        compare(
            "aggregate loads per second",
            ROUNDS,
            {
                "load 10 events": lambda: load_rate(repository, short, 10),
                "load 100,000 events (snapshot)": lambda: load_rate(repository, long, 100_000),
                WORST: lambda: load_rate(repository, between, 100_000 + SNAPSHOT_INTERVAL - 1),
            },
            [
                ("load 10 events", "load 100,000 events (snapshot)", 2.0, "≤"),
                ("load 10 events", WORST, 2.0, "≤"),
            ],
        )
        store.close()


if __name__ == "__main__":
    main()
