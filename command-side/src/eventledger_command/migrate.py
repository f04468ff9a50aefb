"""Apply the event store's migrations, and the runtime kit's (the instance registry), then exit:
``python -m eventledger_command.migrate``. The Kubernetes migration Job runs it before a release's pods start
(ADR 0031); the services still migrate at start-up under the same advisory locks, and then find nothing to do.

Prints each migration applied now; exit 0 when the schema is current, 1 when PostgreSQL cannot be reached or a
migration fails (nothing half-applied: each component's files run in one transaction), 2 on invalid settings.
"""

from __future__ import annotations

import sys

import psycopg

from eventledger_command.eventstore.postgres import hash_older_events
from eventledger_runtime.cli import no_arguments
from eventledger_runtime.instances.postgres import MIGRATIONS as RUNTIME_MIGRATIONS
from eventledger_runtime.migrations import migrate
from eventledger_runtime.settings import settings_or_exit

PROGRAM = "python -m eventledger_command.migrate"


def main(argv: list[str] | None = None) -> int:
    no_arguments(PROGRAM, __doc__, argv)
    settings = settings_or_exit(PROGRAM)
    try:
        with psycopg.connect(settings.postgres.dsn, autocommit=True, connect_timeout=10) as conn:
            applied = migrate(conn, "event-store", "eventledger_command.eventstore")
            hashed = hash_older_events(conn)
            applied += migrate(conn, *RUNTIME_MIGRATIONS)
    except psycopg.Error as exc:
        print(f"{PROGRAM}: {str(exc).strip()[:500]}", file=sys.stderr)
        return 1
    for name in applied:
        print(f"applied {name}")
    if hashed:
        print(f"hashed {hashed} events recorded before the verifiable log")
    print(f"event store and instance registry: current ({len(applied)} applied now)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
