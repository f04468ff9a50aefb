"""PRODUCT.md §6 item 4 for the PostgreSQL read model: replaying from zero through the projection (Kafka consumer,
decoding, fold, one transaction per batch with its offsets) against the raw bulk rate of PostgreSQL writing the
same rows (the same batched upserts, without Kafka, decoding, reads or bookkeeping). Also shows the rebuild from the
event store, for information.

Run with the servers up: ``make up && .venv/bin/python -m bench.bench_projection_postgres``.
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from bench._common import alternate, report
from bench._replay import PublishedLog, published_log, replay_rate
from eventledger_command.eventstore.envelopes import to_new_event
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest, StreamWrite
from eventledger_events import (
    AccountCredited,
    AccountDebited,
    AccountOpened,
    DomainEvent,
    EventEnvelope,
    EventMetadata,
    TransferKind,
    TransferPosted,
    account_stream_id,
    external_account_id,
    transfer_stream_id,
)
from eventledger_infra.settings import Settings
from eventledger_projections.postgres.fold import ReadModelFold
from eventledger_projections.postgres.projection import PostgresProjection
from eventledger_projections.postgres.rebuild import PostgresRebuild, RebuildConfig
from eventledger_projections.postgres.rows import AccountRow, EntryRow, TransferRow
from eventledger_projections.postgres.schema import ReadModelSchemas
from eventledger_projections.postgres.writer import ReadModelWriter
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_runtime.eventlog import PostgresEventLogReader

EVENTS = 20_000
ACCOUNTS = 500
BATCH = 500
ROUNDS = 5
METADATA = EventMetadata(actor="bench", correlation_id=uuid.uuid4())


# ---------------------------------------------------------------------- the log
class LogBuilder:
    """Appends a realistic log straight to the store: accounts, deposits and transfers (3 events each)."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store
        self.versions: dict[str, int] = {}
        self.balances: dict[uuid.UUID, int] = {}
        self.events = 0

    def _write(self, stream_id: str, payloads: Sequence[DomainEvent]) -> StreamWrite:
        version = self.versions.get(stream_id, 0)
        events = []
        for offset, payload in enumerate(payloads, start=1):
            envelope = EventEnvelope.new(
                payload,
                event_id=uuid.uuid4(),
                stream_id=stream_id,
                stream_version=version + offset,
                occurred_at=datetime.now(UTC),
                metadata=METADATA,
            )
            events.append(to_new_event(envelope))
        self.versions[stream_id] = version + len(payloads)
        self.events += len(payloads)
        return StreamWrite(stream_id, version, tuple(events))

    def open(self, account_id: uuid.UUID) -> None:
        payload = AccountOpened(account_id=account_id, holder_name=f"holder {account_id.hex[:6]}", currency="EUR")
        self.store.append(AppendRequest((self._write(account_stream_id(account_id), [payload]),)))
        self.balances[account_id] = 0

    def move(self, source: uuid.UUID | None, destination: uuid.UUID, amount: int) -> None:
        transfer_id = uuid.uuid4()
        external = external_account_id("EUR")
        kind = TransferKind.DEPOSIT if source is None else TransferKind.TRANSFER
        writes = [
            self._write(
                transfer_stream_id(transfer_id),
                [
                    TransferPosted(
                        transfer_id=transfer_id,
                        kind=kind,
                        from_account_id=source or external,
                        to_account_id=destination,
                        amount=amount,
                        currency="EUR",
                        description=f"{kind.value} of {amount}",
                    )
                ],
            )
        ]
        if source is not None:
            self.balances[source] -= amount
            debit = AccountDebited(
                account_id=source,
                transfer_id=transfer_id,
                amount=amount,
                currency="EUR",
                balance_after=self.balances[source],
                counterparty_account_id=destination,
            )
            writes.append(self._write(account_stream_id(source), [debit]))
        self.balances[destination] += amount
        credit = AccountCredited(
            account_id=destination,
            transfer_id=transfer_id,
            amount=amount,
            currency="EUR",
            balance_after=self.balances[destination],
            counterparty_account_id=source or external,
        )
        writes.append(self._write(account_stream_id(destination), [credit]))
        self.store.append(AppendRequest(tuple(writes)))


def build_log(store: PostgresEventStore) -> None:
    rng = random.Random(4)
    builder = LogBuilder(store)
    accounts = [uuid.uuid4() for _ in range(ACCOUNTS)]
    for account_id in accounts:
        builder.open(account_id)
    while builder.events < EVENTS:
        destination = rng.choice(accounts)
        source = rng.choice(accounts)
        if source == destination or builder.balances[source] < 100:
            builder.move(None, destination, rng.randint(100, 10_000))
        else:
            builder.move(source, destination, rng.randint(1, 100))


# ---------------------------------------------------------------------- contenders
def projection_rate(log: PublishedLog) -> float:
    projection = PostgresProjection(log.settings.postgres_dsn, base_schema=f"bench_rm_{uuid.uuid4().hex[:8]}")
    try:
        return replay_rate(projection, log, BATCH)
    finally:
        projection.close()


def rebuild_rate(settings: Settings, events: int) -> float:
    source = EventStoreSource(PostgresEventLogReader(settings.postgres_dsn))
    base = f"bench_rb_{uuid.uuid4().hex[:8]}"
    try:
        began = time.perf_counter()
        PostgresRebuild(settings.postgres_dsn, source, base_schema=base, config=RebuildConfig(batch_size=BATCH)).run()
        return events / (time.perf_counter() - began)
    finally:
        source.close()


RowBatch = tuple[list[AccountRow], list[EntryRow], list[TransferRow]]


def rows_per_batch(envelopes: list[EventEnvelope]) -> list[RowBatch]:
    """The rows the projection writes for each batch of ``BATCH`` events (folded outside the timing)."""
    accounts: dict[uuid.UUID, AccountRow] = {}
    transfers: dict[uuid.UUID, TransferRow] = {}
    batches: list[RowBatch] = []
    for start in range(0, len(envelopes), BATCH):
        fold = ReadModelFold(accounts, transfers)
        for envelope in envelopes[start : start + BATCH]:
            fold.apply(envelope)
        batches.append(
            (
                [dataclasses.replace(accounts[i]) for i in sorted(fold.changed_accounts)],
                list(fold.entries),
                [dataclasses.replace(transfers[i]) for i in sorted(fold.changed_transfers)],
            )
        )
    return batches


def raw_rate(settings: Settings, batches: list[RowBatch], events: int) -> float:
    """The same rows, written with the same batched upserts, one transaction per batch: nothing else."""
    schemas = ReadModelSchemas(f"bench_raw_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        schemas.ensure_base(conn)
        writer = ReadModelWriter(schemas.create_version(conn).schema)
        began = time.perf_counter()
        for accounts, entries, transfers in batches:
            with conn.transaction():
                writer.write_accounts(conn, accounts)
                writer.write_entries(conn, entries)
                writer.write_transfers(conn, transfers)
        return events / (time.perf_counter() - began)


def main() -> None:
    with published_log(Settings.from_env(), build_log, f"a log of {EVENTS:,} events") as log:
        settings, total = log.settings, len(log.envelopes)
        batches = rows_per_batch(log.envelopes)
        rows = sum(len(a) + len(e) + len(t) for a, e, t in batches)
        print(f"{total:,} events, {rows:,} row writes in batches of {BATCH}; {ROUNDS} alternated rounds")
        results = alternate(
            ROUNDS,
            {
                "raw batched upsert (same rows)": lambda: raw_rate(settings, batches, total),
                "projection replay from Kafka": lambda: projection_rate(log),
                "rebuild from the event store": lambda: rebuild_rate(settings, total),
            },
        )
    report(
        "PostgreSQL read model, replaying from zero (events per second)",
        results,
        [
            ("projection replay from Kafka", "raw batched upsert (same rows)", 0.5),
            ("rebuild from the event store", "raw batched upsert (same rows)", 0.0),
        ],
    )


if __name__ == "__main__":
    main()
