"""RTO of the disaster-recovery runbook (ADR 0033, docs/operations.md) on a log of at least 100,000 events.

A private cluster with continuous backup (the provisioning code's own, on its own port) gets a realistic log
(accounts, deposits and transfers with their legs), a base backup, then more events after it (WAL to replay). Then
PostgreSQL is SIGKILLed and its data directory deleted, and the benchmark times each step of the recovery:

1. the restore (``python -m eventledger_infra restore``'s code: copy the base backup, replay the WAL, promote,
   start the synchronous receiver again): after it the command side takes writes;
2. republishing the log to Kafka from its start into a fresh namespace (Kafka lost too), by the relay;
3. rebuilding the three read models from the restored store (``python -m eventledger_projections rebuild``, run
   side by side as the runbook does).

Run with ``flock /tmp/eventledger-system.lock .venv/bin/python -m bench.bench_restore`` (the shared Redis, Kafka and
Elasticsearch must be up; what this makes on them is deleted afterwards). ``--wal-only`` takes the base backup
before any event instead, so the restore replays the whole log from WAL (the worst case: a base backup as old as the
log).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

import psycopg
from elasticsearch import Elasticsearch
from tests.support.clusters import private_cluster
from tests.support.elasticsearch_rig import drop_read_model
from tests.support.ledger import append_in_chunks
from tests.support.projection_rig import delete_topics, relay_running
from tests.support.redis_keys import delete_keys

from bench.bench_projection_postgres import build_script
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import ALL_TOPICS
from eventledger_infra import backup
from eventledger_infra.services.postgres import PostgresServer
from eventledger_projections.elasticsearch import IndexNames
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.settings import Namespace

BEFORE_BACKUP = 100_000
AFTER_BACKUP = 10_000
READ_MODELS = ("postgres", "redis", "elasticsearch")


def _count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def _head(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
    return int(row[0]) if row else 0


def _republish(server: PostgresServer, namespace: Namespace) -> float:
    dsn = server.settings.postgres_dsn
    ensure_topics(server.settings.kafka_bootstrap, [namespace.topic(t) for t in ALL_TOPICS], 6)
    reader = PostgresEventLogReader(dsn)
    reader.rewind_checkpoint("kafka-relay", 0)  # what ``python -m eventledger_command.relay.republish`` does
    reader.close()
    head = _head(dsn)
    store = PostgresEventStore(dsn, pool_size=2)
    checkpoints = PostgresEventLogReader(dsn)
    began = time.monotonic()
    try:
        with relay_running(store, dsn, server.settings.kafka_bootstrap, namespace.topic_prefix):
            while checkpoints.checkpoint("kafka-relay") < head:
                time.sleep(0.05)
    finally:
        checkpoints.close()
        store.close()
    return time.monotonic() - began


def _rebuild_side_by_side(server: PostgresServer, namespace: Namespace) -> tuple[float, dict[str, float]]:
    env = {
        **os.environ,
        "EVENTLEDGER_PG_PORT": str(server.settings.pg_port),
        "EVENTLEDGER_NAMESPACE": namespace.value,
    }
    seconds: dict[str, float] = {}
    failures: list[str] = []

    def rebuild(name: str) -> None:
        began = time.monotonic()
        command = [sys.executable, "-m", "eventledger_projections", "rebuild", name]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
        seconds[name] = time.monotonic() - began
        if done.returncode != 0:
            failures.append(f"{name}: {done.stdout[-500:]}{done.stderr[-2000:]}")

    began = time.monotonic()
    threads = [threading.Thread(target=rebuild, args=(name,)) for name in READ_MODELS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError("\n".join(failures))
    return time.monotonic() - began, seconds


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_restore", description=__doc__)
    parser.add_argument("--wal-only", action="store_true", help="base backup before the first event")
    wal_only = parser.parse_args().wal_only
    namespace = Namespace(f"bench-restore-{uuid.uuid4().hex[:8]}")
    envelopes = build_script(BEFORE_BACKUP + AFTER_BACKUP).envelopes
    with private_cluster(continuous_backup=True, tag="restore") as server:
        dsn = server.settings.postgres_dsn
        try:
            store = PostgresEventStore(dsn, pool_size=4)
            began = time.monotonic()
            if wal_only:
                backup.take_base_backup(server)
            append_in_chunks(store, envelopes[:BEFORE_BACKUP])
            print(f"seeded {BEFORE_BACKUP:,} events in {time.monotonic() - began:.1f} s", flush=True)
            if not wal_only:
                began = time.monotonic()
                taken = backup.take_base_backup(server)
                print(f"base backup in {time.monotonic() - began:.1f} s ({taken.folder})", flush=True)
            append_in_chunks(store, envelopes[BEFORE_BACKUP:], chunk=50)
            store.close()
            appended = _count(dsn)
            after = appended if wal_only else len(envelopes) - BEFORE_BACKUP
            print(f"{appended:,} events recorded, {after:,} of them after the base backup (replayed from WAL)")

            server.kill()
            shutil.rmtree(server.data_dir)
            began = time.monotonic()
            restored = backup.restore(server, None)
            restore_seconds = time.monotonic() - began
            recovered = _count(dsn)
            assert recovered == appended, f"{appended - recovered} events lost"
            print(f"restore (copy, WAL replay, promote, receiver): {restore_seconds:.1f} s; {recovered:,} events back")
            print(f"  from {restored.backup.folder}")

            republish_seconds = _republish(server, namespace)
            print(f"republish to Kafka (fresh namespace) by the relay: {republish_seconds:.1f} s")
            rebuild_seconds, each = _rebuild_side_by_side(server, namespace)
            print(
                f"read-model rebuilds side by side: {rebuild_seconds:.1f} s ("
                + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in each.items())
                + ")"
            )
            total = restore_seconds + republish_seconds + rebuild_seconds
            print(f"\nRTO on {recovered:,} events: the store takes writes again after {restore_seconds:.1f} s;")
            print(f"  read models lost too: all rebuilt after {restore_seconds + rebuild_seconds:.1f} s;")
            print(f"  Kafka lost as well (republish, then rebuild): {total:.1f} s")
        finally:
            delete_topics(server.settings.kafka_bootstrap, namespace.topic_prefix)
            delete_keys(server.settings.redis_url, namespace.redis_prefix)
            with contextlib.closing(Elasticsearch(server.settings.elasticsearch_url, request_timeout=60)) as es:
                drop_read_model(es, IndexNames(namespace.index_prefix))


if __name__ == "__main__":
    main()
