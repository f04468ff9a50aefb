"""Apply a package's numbered SQL files (``NNN_name.sql``) once each, in order, under an advisory lock.

Used by every part that owns tables (the event store, the read models). Requires psycopg, which the services
have; the provisioning tool never imports the runtime kit.
"""

from __future__ import annotations

import re
import zlib
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migration_files(package: str, folder: str = "sql") -> list[tuple[int, str, str]]:
    """(number, name, sql) of each migration shipped in ``package/folder``, in order; numbers must be unique."""
    root: Traversable = resources.files(package) / folder
    found: list[tuple[int, str, str]] = []
    for entry in root.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    found.sort()
    numbers = [number for number, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"{package}/{folder}: two migrations share a number: {numbers}")
    return found


def migrate(conn: Any, component: str, package: str, folder: str = "sql") -> list[str]:
    """Apply the migrations of ``component`` not yet applied; returns the names applied now.

    ``conn`` is a psycopg connection. All pending files run in one transaction with their bookkeeping rows, so a
    failing file leaves nothing half-applied.
    """
    applied_now: list[str] = []
    lock_id = zlib.crc32(f"eventledger-migrations:{component}".encode())
    with conn.transaction():
        # Concurrent starters of the same component wait here; the second finds everything applied.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " component text NOT NULL, number integer NOT NULL, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, number))"
        )
        done = {
            row[0] for row in conn.execute("SELECT number FROM schema_migrations WHERE component = %s", [component])
        }
        for number, name, sql in migration_files(package, folder):
            if number in done:
                continue
            conn.execute(sql)
            conn.execute(
                "INSERT INTO schema_migrations (component, number, name) VALUES (%s, %s, %s)",
                [component, number, name],
            )
            applied_now.append(name)
    return applied_now
