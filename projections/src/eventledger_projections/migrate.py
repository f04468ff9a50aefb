"""Apply the PostgreSQL read model's migrations, then exit: ``python -m eventledger_projections.migrate``. The
stable schema (its views and version table) is brought up to date, and the first run ever creates version 1 and
makes it live, as the projector's first start would. The Kubernetes migration Job runs it before a release's pods
start (ADR 0031); the projector still does the same at start-up under the same locks, and then finds nothing to do.

Exit 0 when the schema is current, 1 when PostgreSQL cannot be reached or a migration fails, 2 on invalid settings.
"""

from __future__ import annotations

import sys

import psycopg

from eventledger_projections.postgres.schema import ReadModelSchemas
from eventledger_runtime.cli import no_arguments
from eventledger_runtime.settings import settings_or_exit

PROGRAM = "python -m eventledger_projections.migrate"


def main(argv: list[str] | None = None) -> int:
    no_arguments(PROGRAM, __doc__, argv)
    settings = settings_or_exit(PROGRAM)
    try:
        with psycopg.connect(settings.postgres.dsn, autocommit=True, connect_timeout=10) as conn:
            live = ReadModelSchemas(settings.projections.postgres_schema).ensure_live(conn)
    except psycopg.Error as exc:
        print(f"{PROGRAM}: {str(exc).strip()[:500]}", file=sys.stderr)
        return 1
    print(f"PostgreSQL read model: current (live version {live.number}, schema {live.schema})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
