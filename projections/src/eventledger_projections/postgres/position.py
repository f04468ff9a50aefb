"""What the query side asks: the global position the live PostgreSQL read model reflects.

The query side must not import this package (import-linter: the sides are independent), so the contract is the SQL
function ``<base>.reflected_position()`` (created with each switch): ``SELECT read_model.reflected_position()``.
This module is the same call for this package's own use (ops, tests, benchmarks).
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql


def reflected_position(conn: Connection[Any], base_schema: str = "read_model") -> int:
    """Every event at or below the answer is applied to (or parked by) the live read model; 0 before any."""
    row = conn.execute(sql.SQL("SELECT {}.reflected_position()").format(sql.Identifier(base_schema))).fetchone()
    return int(row[0]) if row else 0
