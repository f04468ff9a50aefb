"""PRODUCT.md §6 item 4 for the PostgreSQL read model: replaying from zero through the projection (Kafka consumer,
decoding, fold, one transaction per batch with its offsets) against the raw bulk rate of PostgreSQL writing the
same rows (the same batched upserts, without Kafka, decoding, reads or bookkeeping). Also shows the rebuild from the
event store, for information. Main's envelope paths (ADR 0037: validated envelopes for every event) race the record
paths of ADR 0039 (Avro records and stored JSON folded straight into rows) in the same rounds.

Run with the servers up: ``make up && .venv/bin/python -m bench.bench_projection_postgres``.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
import uuid

import psycopg
from tests.support.ledger import LedgerScript, append_in_chunks

from bench._common import compare
from bench._replay import PublishedLog, published_log, replay_rate
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import EventEnvelope
from eventledger_infra.settings import Settings
from eventledger_projections.postgres.fold import Fact, ReadModelFold, fact_of_envelope
from eventledger_projections.postgres.projection import PostgresProjection
from eventledger_projections.postgres.rebuild import PostgresRebuild, PostgresRebuildConfig
from eventledger_projections.postgres.rows import AccountRow, EntryRow, TransferRow
from eventledger_projections.postgres.schema import ReadModelSchemas
from eventledger_projections.postgres.writer import ReadModelWriter
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_runtime.eventlog import PostgresEventLogReader

EVENTS = 20_000
ACCOUNTS = 500
BATCH = 500
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
RAW = "raw batched upsert (same rows)"
REPLAY = "projection replay from Kafka (records)"
REPLAY_ENVELOPES = "projection replay from Kafka (envelopes, main)"
REBUILD = "rebuild from the event store (stored JSON)"
REBUILD_ENVELOPES = "rebuild from the event store (envelopes, main)"


class EnvelopeProjection(PostgresProjection):
    """Main's path before ADR 0039: every event decoded into a validated envelope."""

    reads_records = False


class EnvelopeRebuild(PostgresRebuild):
    """Main's rebuild before ADR 0039: every stored row decoded into a validated envelope."""

    def read(self, after: int, upto: int) -> list[Fact]:
        return [fact_of_envelope(e) for e in self._source.read(after, upto, BATCH)]


# ---------------------------------------------------------------------- the log
def build_script(events: int = EVENTS) -> LedgerScript:
    """A realistic log of about ``events`` events: accounts, then deposits and transfers (2 and 3 events each, legs
    included)."""
    rng = random.Random(4)
    script = LedgerScript()
    accounts = [script.open(f"holder {i}") for i in range(ACCOUNTS)]
    while len(script.envelopes) < events:
        destination, source = rng.choice(accounts), rng.choice(accounts)
        if source == destination or script.balance(source) < 100:
            amount = rng.randint(100, 10_000)
            script.deposit(destination, amount, f"deposit of {amount}")
        else:
            amount = rng.randint(1, 100)
            script.transfer(source, destination, amount, f"transfer of {amount}")
    return script


def build_log(store: PostgresEventStore) -> None:
    append_in_chunks(store, build_script().envelopes)


# ---------------------------------------------------------------------- contenders
def projection_rate(log: PublishedLog, kind: type[PostgresProjection] = PostgresProjection) -> float:
    projection = kind(log.settings.postgres_dsn, base_schema=f"bench_rm_{uuid.uuid4().hex[:8]}")
    try:
        return replay_rate(projection, log, BATCH)
    finally:
        projection.close()


def rebuild_rate(settings: Settings, events: int, kind: type[PostgresRebuild] = PostgresRebuild) -> float:
    source = EventStoreSource(PostgresEventLogReader(settings.postgres_dsn))
    base = f"bench_rb_{uuid.uuid4().hex[:8]}"
    try:
        began = time.perf_counter()
        kind(settings.postgres_dsn, source, base_schema=base, config=PostgresRebuildConfig(batch_size=BATCH)).run()
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
        compare(
            "PostgreSQL read model, replaying from zero (events per second)",
            ROUNDS,
            {
                RAW: lambda: raw_rate(settings, batches, total),
                REPLAY_ENVELOPES: lambda: projection_rate(log, EnvelopeProjection),
                REPLAY: lambda: projection_rate(log),
                REBUILD_ENVELOPES: lambda: rebuild_rate(settings, total, EnvelopeRebuild),
                REBUILD: lambda: rebuild_rate(settings, total),
            },
            [
                (REPLAY, RAW, 0.5),
                (REPLAY_ENVELOPES, RAW, 0.0),
                (REPLAY, REPLAY_ENVELOPES, 0.0),
                (REBUILD, RAW, 0.0),
                (REBUILD_ENVELOPES, RAW, 0.0),
                (REBUILD, REBUILD_ENVELOPES, 0.0),
            ],
        )


if __name__ == "__main__":
    main()
