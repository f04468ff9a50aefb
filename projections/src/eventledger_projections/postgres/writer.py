"""Writes batches of events into one version schema of the read model: load the touched rows (locked), fold, and
write back what changed with one set-based statement per table. Runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor, sql

from eventledger_events import EventEnvelope
from eventledger_events.personal import ERASED
from eventledger_projections.postgres import erasure
from eventledger_projections.postgres.fold import Fact, ReadModelFold, rows_to_load
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


@dataclass
class StoredRows:
    """The pending results of the row loads of one batch."""

    account_rows: Cursor[Any] | None
    transfer_rows: Cursor[Any] | None

    def accounts(self) -> dict[UUID, AccountRow]:
        rows = self.account_rows.fetchall() if self.account_rows is not None else []
        return {row[0]: AccountRow(*row) for row in rows}

    def transfers(self) -> dict[UUID, TransferRow]:
        rows = self.transfer_rows.fetchall() if self.transfer_rows is not None else []
        return {row[0]: TransferRow(*row) for row in rows}


class ReadModelWriter:
    """The statements of one version schema, composed once."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        accounts = sql.Identifier(schema, "accounts")
        transfers = sql.Identifier(schema, "transfers")
        entries = sql.Identifier(schema, "account_entries")
        self._load_accounts = sql.SQL(
            "SELECT " + _ACCOUNT_COLUMNS + " FROM {} WHERE account_id = ANY(%b::uuid[]) ORDER BY account_id FOR UPDATE"
        ).format(accounts)
        self._load_transfers = sql.SQL(
            "SELECT " + _TRANSFER_COLUMNS + " FROM {} WHERE transfer_id = ANY(%b::uuid[])"
            " ORDER BY transfer_id FOR UPDATE"
        ).format(transfers)
        self._upsert_accounts = sql.SQL(
            "INSERT INTO {} AS a (" + _ACCOUNT_COLUMNS + ") SELECT * FROM unnest(%b::uuid[], %b::text[], %b::text[],"
            " %b::text[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::timestamptz[],"
            " %b::timestamptz[]) ON CONFLICT (account_id) DO UPDATE SET holder_name = excluded.holder_name,"
            " status = excluded.status,"
            " balance = excluded.balance, held = excluded.held, version = excluded.version,"
            " position = excluded.position, updated_at = excluded.updated_at WHERE a.version < excluded.version"
        ).format(accounts)
        # A line or a transfer of an erased account (its row's holder name is [erased]) is masked on its way in
        # (postgres/erasure.py): an event decoded before the key was destroyed may arrive after the erasure.
        self._insert_entries = sql.SQL(
            "INSERT INTO {entries} (" + _ENTRY_COLUMNS + ") SELECT u.account_id, u.position, u.transfer_id,"
            " u.amount, u.balance_after, CASE WHEN EXISTS (SELECT 1 FROM {accounts} a WHERE a.holder_name = {erased}"
            " AND a.account_id IN (u.account_id, u.counterparty_account_id)) THEN {erased} ELSE u.description END,"
            " u.posted_at, u.event_id FROM unnest(%b::uuid[], %b::bigint[], %b::uuid[], %b::bigint[], %b::bigint[],"
            " %b::text[], %b::timestamptz[], %b::uuid[], %b::uuid[]) AS u(" + _ENTRY_COLUMNS + ","
            " counterparty_account_id) ON CONFLICT DO NOTHING"
        ).format(entries=entries, accounts=accounts, erased=sql.Literal(ERASED))
        self._upsert_transfers = sql.SQL(
            "INSERT INTO {transfers} AS t (" + _TRANSFER_COLUMNS + ") SELECT u.transfer_id, u.kind,"
            " u.from_account_id, u.to_account_id, u.amount, u.currency, u.status, CASE WHEN EXISTS (SELECT 1"
            " FROM {accounts} a WHERE a.holder_name = {erased} AND a.account_id IN (u.from_account_id,"
            " u.to_account_id)) THEN {erased} ELSE u.description END, u.created_at, u.updated_at, u.expires_at,"
            " u.version, u.position FROM unnest(%b::uuid[], %b::text[],"
            " %b::uuid[], %b::uuid[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::timestamptz[],"
            " %b::timestamptz[], %b::timestamptz[], %b::bigint[], %b::bigint[]) AS u(" + _TRANSFER_COLUMNS + ")"
            " ON CONFLICT (transfer_id) DO UPDATE"
            " SET status = excluded.status, updated_at = excluded.updated_at, version = excluded.version,"
            " position = excluded.position WHERE t.version < excluded.version"
        ).format(transfers=transfers, accounts=accounts, erased=sql.Literal(ERASED))

    def write(self, conn: Connection[Any], events: Sequence[Fact | EventEnvelope]) -> int:
        """Apply ``events`` (facts, or envelopes of any schema version) in order; answers how many were applied
        (the others were already reflected).

        Raises :class:`~eventledger_projections.postgres.fold.UnappliableEvent` for an event this read model
        cannot apply; the caller's transaction then rolls back.
        """
        return self.write_loaded(conn, events, self.load(conn, events))

    def load(self, conn: Connection[Any], events: Sequence[Fact | EventEnvelope]) -> StoredRows:
        """Send the queries for the rows the batch needs, locked FOR UPDATE (in pipeline mode they travel with
        whatever the caller sends next; their results are read by ``write_loaded``)."""
        account_ids, transfer_ids = rows_to_load(events)
        accounts = transfers = None
        if account_ids:
            accounts = conn.execute(self._load_accounts, [list(account_ids)], prepare=True, binary=True)
        if transfer_ids:
            transfers = conn.execute(self._load_transfers, [list(transfer_ids)], prepare=True, binary=True)
        return StoredRows(accounts, transfers)

    def write_loaded(self, conn: Connection[Any], events: Sequence[Fact | EventEnvelope], stored: StoredRows) -> int:
        """Fold ``events`` onto the ``stored`` rows and send the writes; answers how many were applied."""
        fold = ReadModelFold(stored.accounts(), stored.transfers())
        applied = 0
        for event in events:
            applied += fold.apply(event)
        self.write_accounts(conn, [fold.accounts[i] for i in sorted(fold.changed_accounts)])
        self.write_entries(conn, fold.entries)
        self.write_transfers(conn, [fold.transfers[i] for i in sorted(fold.changed_transfers)])
        erasure.mask(conn, self.schema, fold.erased)
        return applied

    def write_accounts(self, conn: Connection[Any], rows: Sequence[AccountRow]) -> None:
        """Upsert ``rows``; a stored row of the same or a later version is kept."""
        if rows:
            columns = _columns(rows, _ACCOUNT_COLUMNS)
            conn.execute(self._upsert_accounts, columns, prepare=True)

    def write_entries(self, conn: Connection[Any], rows: Sequence[EntryRow]) -> None:
        """Insert ``rows``; an entry already stored (same account and position) is kept."""
        if rows:
            counterparties = [row.counterparty_account_id for row in rows]
            conn.execute(self._insert_entries, [*_columns(rows, _ENTRY_COLUMNS), counterparties], prepare=True)

    def write_transfers(self, conn: Connection[Any], rows: Sequence[TransferRow]) -> None:
        """Upsert ``rows``; a stored row of the same or a later version is kept."""
        if rows:
            conn.execute(self._upsert_transfers, _columns(rows, _TRANSFER_COLUMNS), prepare=True)


def _columns(rows: Sequence[object], names: str) -> list[list[Any]]:
    """Column-wise values (one list per column) for ``unnest``."""
    return [[getattr(row, name) for row in rows] for name in (n.strip() for n in names.split(","))]
