"""What RPO 0 costs on the append path (ADR 0033): the event-store append benchmark's appends
(``bench.bench_event_store.store_rate``: one credit per append, one stream per client) against two private clusters
made by the same provisioning code, one plain and one with continuous backup (WAL archived, and every commit waiting
for ``pg_receivewal --synchronous`` to flush it), alternated in the same run.

Run with ``flock /tmp/eventledger-system.lock .venv/bin/python -m bench.bench_synchronous_wal``.
"""

from __future__ import annotations

from tests.support.clusters import private_cluster

from bench._common import compare
from bench.bench_event_store import SECONDS, store_rate
from eventledger_command.eventstore.postgres import PostgresEventStore

ROUNDS = 5
PLAIN_1 = "plain cluster, 1 client"
SYNC_1 = "synchronous WAL receiver, 1 client"
PLAIN_4 = "plain cluster, 4 clients"
SYNC_4 = "synchronous WAL receiver, 4 clients"


def main() -> None:
    with (
        private_cluster(continuous_backup=False, tag="plain") as plain,
        private_cluster(continuous_backup=True, tag="sync") as synchronous,
    ):
        stores = {
            "plain": PostgresEventStore(plain.settings.postgres_dsn, pool_size=8),
            "sync": PostgresEventStore(synchronous.settings.postgres_dsn, pool_size=8),
        }
        print(f"synchronous WAL benchmark: {SECONDS:.0f} s per run, {ROUNDS} alternated rounds")
        try:
            compare(
                "event store appends with and without the synchronous WAL receiver",
                ROUNDS,
                {
                    PLAIN_1: lambda: store_rate(stores["plain"], 1),
                    SYNC_1: lambda: store_rate(stores["sync"], 1),
                    PLAIN_4: lambda: store_rate(stores["plain"], 4),
                    SYNC_4: lambda: store_rate(stores["sync"], 4),
                },
                [(SYNC_1, PLAIN_1, None), (SYNC_4, PLAIN_4, None)],
            )
        finally:
            for store in stores.values():
                store.close()


if __name__ == "__main__":
    main()
