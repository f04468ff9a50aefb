"""Writes batches of events into one version schema of the read model: load the touched rows (locked), fold, and
write back what changed with one set-based statement per table. Runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Connection, sql

from eventledger_events import EventEnvelope
from eventledger_projections.postgres.fold import ReadModelFold, touched_ids
from eventledger_projections.postgres.rows import AccountRow, EntryRow, TransferRow

_ACCOUNT_COLUMNS = (
    "account_id, holder_name, currency, status, balance, overdraft_limit, held, version, position, opened_at,"
    " updated_at"
)
_TRANSFER_COLUMNS = (
    "transfer_id, kind, from_account_id, to_account_id, amount, currency, status, description, created_at,"
    " updated_at, expires_at, version, position"
)
_ENTRY_COLUMNS = "account_id, position, transfer_id, amount, balance_after, description, posted_at, event_id"


class ReadModelWriter:
    """The statements of one version schema, composed once."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        accounts = sql.Identifier(schema, "accounts")
        transfers = sql.Identifier(schema, "transfers")
        entries = sql.Identifier(schema, "account_entries")
        self._load_accounts = sql.SQL(
            "SELECT " + _ACCOUNT_COLUMNS + " FROM {} WHERE account_id = ANY(%s::uuid[]) ORDER BY account_id FOR UPDATE"
        ).format(accounts)
        self._load_transfers = sql.SQL(
            "SELECT " + _TRANSFER_COLUMNS + " FROM {} WHERE transfer_id = ANY(%s::uuid[])"
            " ORDER BY transfer_id FOR UPDATE"
        ).format(transfers)
        self._upsert_accounts = sql.SQL(
            "INSERT INTO {} AS a (" + _ACCOUNT_COLUMNS + ") SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[],"
            " %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::timestamptz[],"
            " %s::timestamptz[]) ON CONFLICT (account_id) DO UPDATE SET status = excluded.status,"
            " balance = excluded.balance, held = excluded.held, version = excluded.version,"
            " position = excluded.position, updated_at = excluded.updated_at WHERE a.version < excluded.version"
        ).format(accounts)
        self._insert_entries = sql.SQL(
            "INSERT INTO {} (" + _ENTRY_COLUMNS + ") SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::uuid[],"
            " %s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[], %s::uuid[]) ON CONFLICT DO NOTHING"
        ).format(entries)
        self._upsert_transfers = sql.SQL(
            "INSERT INTO {} AS t (" + _TRANSFER_COLUMNS + ") SELECT * FROM unnest(%s::uuid[], %s::text[],"
            " %s::uuid[], %s::uuid[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],"
            " %s::timestamptz[], %s::timestamptz[], %s::bigint[], %s::bigint[]) ON CONFLICT (transfer_id) DO UPDATE"
            " SET status = excluded.status, updated_at = excluded.updated_at, version = excluded.version,"
            " position = excluded.position WHERE t.version < excluded.version"
        ).format(transfers)

    def write(self, conn: Connection[Any], envelopes: Sequence[EventEnvelope]) -> int:
        """Apply ``envelopes`` in order; answers how many were applied (the others were already reflected).

        Raises :class:`~eventledger_projections.postgres.fold.UnappliableEvent` for an event this read model
        cannot apply; the caller's transaction then rolls back.
        """
        account_ids, transfer_ids = touched_ids(list(envelopes))
        fold = ReadModelFold(self._accounts(conn, account_ids), self._transfers(conn, transfer_ids))
        applied = sum(fold.apply(envelope) for envelope in envelopes)
        self.write_accounts(conn, [fold.accounts[i] for i in sorted(fold.changed_accounts)])
        self.write_entries(conn, fold.entries)
        self.write_transfers(conn, [fold.transfers[i] for i in sorted(fold.changed_transfers)])
        return applied

    def _accounts(self, conn: Connection[Any], ids: set[UUID]) -> dict[UUID, AccountRow]:
        if not ids:
            return {}
        rows = conn.execute(self._load_accounts, [list(ids)], prepare=True).fetchall()
        return {row[0]: AccountRow(*row) for row in rows}

    def _transfers(self, conn: Connection[Any], ids: set[UUID]) -> dict[UUID, TransferRow]:
        if not ids:
            return {}
        rows = conn.execute(self._load_transfers, [list(ids)], prepare=True).fetchall()
        return {row[0]: TransferRow(*row) for row in rows}

    def write_accounts(self, conn: Connection[Any], rows: Sequence[AccountRow]) -> None:
        """Upsert ``rows``; a stored row of the same or a later version is kept."""
        if rows:
            columns = _columns(rows, _ACCOUNT_COLUMNS)
            conn.execute(self._upsert_accounts, columns, prepare=True)

    def write_entries(self, conn: Connection[Any], rows: Sequence[EntryRow]) -> None:
        """Insert ``rows``; an entry already stored (same account and position) is kept."""
        if rows:
            conn.execute(self._insert_entries, _columns(rows, _ENTRY_COLUMNS), prepare=True)

    def write_transfers(self, conn: Connection[Any], rows: Sequence[TransferRow]) -> None:
        """Upsert ``rows``; a stored row of the same or a later version is kept."""
        if rows:
            conn.execute(self._upsert_transfers, _columns(rows, _TRANSFER_COLUMNS), prepare=True)


def _columns(rows: Sequence[object], names: str) -> list[list[Any]]:
    """Column-wise values (one list per column) for ``unnest``."""
    return [[getattr(row, name) for row in rows] for name in (n.strip() for n in names.split(","))]
