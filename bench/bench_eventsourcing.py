"""Issue 15 item 3: the eventsourcing library's application recorder on our gap-safe log (ADR 0027) against the
library's own ``eventsourcing.postgres`` recorder (``LOCK TABLE ... IN EXCLUSIVE MODE`` on every insert), at 1 and 4
writers, alternated in the same run, on the same database and the same settings.

Each insert is what an aggregate command records: a new aggregate's first events (``EVENTS_PER_INSERT`` of them),
through the recorder's ``insert_events``, which answers their notification ids.

Run with the servers up: ``make servers && .venv/bin/python -m bench.bench_eventsourcing``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.conninfo import conninfo_to_dict

from bench._common import compare, scratch_database
from eventledger_command.eventsourcing import GapSafeApplicationRecorder
from eventledger_infra.settings import Settings

SECONDS = 3.0
ROUNDS = 3
EVENTS_PER_INSERT = 2
STATE = b'{"amount":"125.00","currency":"EUR","holder":"Ada Lovelace"}'


def insert_rate(recorder: ApplicationRecorder, writers: int) -> float:
    """Inserts per second by ``writers`` threads, each inserting new aggregates for ``SECONDS``."""
    counts = [0] * writers
    deadline = time.monotonic() + SECONDS

    def write(index: int) -> None:
        done = 0
        while time.monotonic() < deadline:
            originator = uuid.uuid4()
            events = [StoredEvent(originator, v, "bench:Opened", STATE) for v in range(1, EVENTS_PER_INSERT + 1)]
            ids = recorder.insert_events(events)
            assert ids is not None
            assert len(ids) == EVENTS_PER_INSERT
            done += 1
        counts[index] = done

    began = time.perf_counter()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


OURS_1 = "gap-safe module, 1 writer"
LIBRARY_1 = "eventsourcing.postgres, 1 writer"
OURS_4 = "gap-safe module, 4 writers"
LIBRARY_4 = "eventsourcing.postgres, 4 writers"


def main() -> None:
    base = Settings.from_env()
    with scratch_database(base) as database:
        params = conninfo_to_dict(dataclasses.replace(base, pg_database=database).postgres_dsn)

        def datastore(schema: str) -> PostgresDatastore:
            return PostgresDatastore(
                dbname=str(params["dbname"]),
                host=str(params.get("host", "localhost")),
                port=str(params.get("port", "5432")),
                user=str(params["user"]),
                password=str(params.get("password", "")),
                schema=schema,
                pool_size=4,
            )

        ours_store, library_store = datastore("public"), datastore("public")
        ours = GapSafeApplicationRecorder(ours_store, events_table_name="gapsafe_events")
        library = PostgresApplicationRecorder(library_store, events_table_name="library_events")
        ours.create_table()
        library.create_table()
        contenders: dict[str, Callable[[], float]] = {
            OURS_1: lambda: insert_rate(ours, 1),
            LIBRARY_1: lambda: insert_rate(library, 1),
            OURS_4: lambda: insert_rate(ours, 4),
            LIBRARY_4: lambda: insert_rate(library, 4),
        }
        print(f"eventsourcing recorders: {SECONDS:.0f} s per run, {ROUNDS} alternated rounds")
        try:
            compare(
                f"application recorder inserts ({EVENTS_PER_INSERT} events of a new aggregate per insert)",
                ROUNDS,
                contenders,
                [
                    (OURS_1, LIBRARY_1, None),
                    (OURS_4, LIBRARY_4, None),
                    (OURS_4, OURS_1, None),
                    (LIBRARY_4, LIBRARY_1, None),
                ],
            )
        finally:
            ours.close()
            ours_store.close()
            library_store.close()


if __name__ == "__main__":
    main()
