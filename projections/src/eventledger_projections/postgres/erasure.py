"""Erasure in the PostgreSQL read model: mask an erased holder's personal data in every table and every copy.

An ``account.personal_data_erased`` (docs/adr/0035-key-handling-for-personal-data.md) makes the writer, in the
batch's own transaction:

- set the account row's ``holder_name`` to :data:`~eventledger_events.personal.ERASED` (through the fold, so the
  version guard holds);
- mask the ``description`` of every transfer the account took part in (either side) and of every statement line
  of such a transfer (its own lines and the other party's);
- do the same in every other copy of the read model under the same base: retired and building versions, and every
  sandbox (``<base>_sandbox_<name>_v<N>``, ADR 0034), so that no schema keeps the plaintext.

An account row whose holder name is ``[erased]`` is also the marker the writer's inserts check: a transfer or a
statement line written after the erasure (an event decoded before the key was destroyed, delivered late from
another partition) is masked on its way in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Connection, sql

from eventledger_events.personal import ERASED

_MASK_ACCOUNTS = "UPDATE {schema}.accounts SET holder_name = {erased} WHERE account_id = ANY(%(ids)s::uuid[])"
_MASK_TRANSFERS = (
    "UPDATE {schema}.transfers SET description = {erased} WHERE description <> {erased}"
    " AND (from_account_id = ANY(%(ids)s::uuid[]) OR to_account_id = ANY(%(ids)s::uuid[]))"
)
_MASK_ENTRIES = (
    "UPDATE {schema}.account_entries SET description = {erased} WHERE description <> {erased}"
    " AND (account_id = ANY(%(ids)s::uuid[]) OR transfer_id IN (SELECT transfer_id FROM {schema}.transfers"
    " WHERE from_account_id = ANY(%(ids)s::uuid[]) OR to_account_id = ANY(%(ids)s::uuid[])))"
)


def mask(conn: Connection[Any], schema: str, account_ids: Sequence[UUID]) -> None:
    """Mask the personal data of ``account_ids`` in the version schema ``schema`` (idempotent)."""
    if not account_ids:
        return
    names = {"schema": sql.Identifier(schema), "erased": sql.Literal(ERASED)}
    for statement in (_MASK_ACCOUNTS, _MASK_TRANSFERS, _MASK_ENTRIES):
        conn.execute(sql.SQL(statement).format(**names), {"ids": list(account_ids)})


def copies(conn: Connection[Any], base: str) -> list[str]:
    """Every version schema of the read model under ``base``, its sandboxes' included, that has the tables."""
    pattern = "^" + re.escape(base) + r"(_sandbox_[a-z][a-z0-9_]*)?_v[0-9]+$"
    rows = conn.execute(
        "SELECT n.nspname FROM pg_namespace n WHERE n.nspname ~ %s AND EXISTS (SELECT 1 FROM pg_class c"
        " WHERE c.relnamespace = n.oid AND c.relname = 'account_entries' AND c.relkind = 'r') ORDER BY 1",
        [pattern],
    ).fetchall()
    return [str(row[0]) for row in rows]


def mask_everywhere(conn: Connection[Any], base: str, account_ids: Sequence[UUID]) -> list[str]:
    """Mask ``account_ids`` in every copy under ``base``; answers the schemas masked."""
    schemas = copies(conn, base) if account_ids else []
    for schema in schemas:
        mask(conn, schema, account_ids)
    return schemas
