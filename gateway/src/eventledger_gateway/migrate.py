"""Apply the gateway's migrations (the OAuth client registry and signing keys), then exit:
``python -m eventledger_gateway.migrate``. The Kubernetes migration Job runs it before a release's pods start
(ADR 0031); the gateway still migrates at start-up under the same advisory lock, and then finds nothing to do.

Prints each migration applied now; exit 0 when the schema is current, 1 when PostgreSQL cannot be reached or a
migration fails, 2 on invalid settings.
"""

from __future__ import annotations

import sys

import psycopg

from eventledger_gateway.oauth.postgres import migrate_oauth_tables
from eventledger_runtime.cli import no_arguments
from eventledger_runtime.settings import settings_or_exit

PROGRAM = "python -m eventledger_gateway.migrate"


def main(argv: list[str] | None = None) -> int:
    no_arguments(PROGRAM, __doc__, argv)
    settings = settings_or_exit(PROGRAM)
    try:
        applied = migrate_oauth_tables(settings.postgres.dsn)
    except psycopg.Error as exc:
        print(f"{PROGRAM}: {str(exc).strip()[:500]}", file=sys.stderr)
        return 1
    for name in applied:
        print(f"applied {name}")
    print(f"gateway OAuth tables: current ({len(applied)} applied now)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
