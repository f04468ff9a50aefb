"""Reads of the three read models. Each answers rows together with the global position its model reflects.

The read models belong to the projections package, which keeps "the query next to the projection that writes
what it reads": this module reads the PostgreSQL views through SQL and uses the projections' own read helpers for
Redis and Elasticsearch (docs/adr/0012-query-side.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from redis import Redis

from eventledger_projections.elasticsearch.names import IndexNames
from eventledger_projections.elasticsearch.search import SearchPage, TransferQuery, read_position, search_transfers
from eventledger_projections.redis.views import AccountView, Overview, RedisReadModel

ACCOUNT_COLUMNS = (
    "account_id, holder_name, currency, status, balance, available, overdraft_limit, held, version, updated_at"
)


@dataclass(frozen=True)
class AccountFilter:
    status: str | None = None
    currency: str | None = None
    holder: str | None = None


class PostgresReadModelReader:
    """Accounts, statement entries and transfers from the live views of the PostgreSQL read model."""

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self._schema = sql.Identifier(schema)

    def _rows(self, query: sql.Composed, params: list[Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            return list(cursor.execute(query, params).fetchall())

    def position(self) -> int:
        query = sql.SQL("SELECT {}.reflected_position() AS p").format(self._schema)
        return int(self._rows(query, [])[0]["p"])

    def account(self, account_id: uuid.UUID) -> dict[str, Any] | None:
        query = sql.SQL(f"SELECT {ACCOUNT_COLUMNS} FROM {{}}.accounts WHERE account_id = %s").format(self._schema)
        rows = self._rows(query, [account_id])
        return rows[0] if rows else None

    def accounts(self, where: AccountFilter, limit: int, after: uuid.UUID | None) -> list[dict[str, Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if where.status:
            clauses.append("status = %s")
            params.append(where.status)
        if where.currency:
            clauses.append("currency = %s")
            params.append(where.currency)
        if where.holder:
            clauses.append("lower(holder_name) LIKE %s")
            params.append(_like_prefix(where.holder.lower()))
        if after is not None:
            clauses.append("account_id > %s")
            params.append(after)
        condition = " AND ".join(clauses) or "true"
        query = sql.SQL(
            f"SELECT {ACCOUNT_COLUMNS} FROM {{}}.accounts WHERE {condition} ORDER BY account_id LIMIT %s"
        ).format(self._schema)
        return self._rows(query, [*params, limit])

    def entries(
        self,
        account_id: uuid.UUID,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        after: tuple[datetime, int] | None,
    ) -> list[dict[str, Any]]:
        clauses: list[str] = ["account_id = %s"]
        params: list[Any] = [account_id]
        if since is not None:
            clauses.append("posted_at >= %s")
            params.append(since)
        if until is not None:
            clauses.append("posted_at < %s")
            params.append(until)
        if after is not None:
            clauses.append("(posted_at, position) > (%s, %s)")
            params.extend(after)
        query = sql.SQL(
            "SELECT transfer_id, amount, balance_after, description, posted_at, position"
            f" FROM {{}}.account_entries WHERE {' AND '.join(clauses)} ORDER BY posted_at, position LIMIT %s"
        ).format(self._schema)
        return self._rows(query, [*params, limit])

    def transfer(self, transfer_id: uuid.UUID) -> dict[str, Any] | None:
        query = sql.SQL(
            "SELECT transfer_id, from_account_id, to_account_id, amount, currency, status, description, created_at,"
            " position FROM {}.transfers WHERE transfer_id = %s"
        ).format(self._schema)
        rows = self._rows(query, [transfer_id])
        return rows[0] if rows else None

    def ready(self) -> bool:
        self.position()
        return True


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class RedisFigures:
    """Hot balances and the dashboard figures from the Redis read model, plus the stream job's windows."""

    def __init__(self, client: Redis, base: str) -> None:
        self._client = client
        self._model = RedisReadModel(client, base=base)

    def position(self) -> int:
        return self._model.reflected_position()

    def built(self) -> bool:
        """Whether a version of the Redis read model is live (a fresh deployment has none until it projects)."""
        return self._model.live_version() is not None

    def account(self, account_id: uuid.UUID) -> AccountView | None:
        return self._model.account(account_id)

    def holder_names(self, account_ids: list[str]) -> dict[str, str]:
        return self._model.holder_names(account_ids)

    def overview(self, top: int = 10) -> Overview:
        return self._model.overview(top)

    def ready(self) -> bool:
        return bool(self._client.ping())


class TransferSearch:
    def __init__(self, client: Elasticsearch, names: IndexNames) -> None:
        self._client = client
        self._names = names

    def position(self) -> int:
        return read_position(self._client, progress_index=self._names.progress)

    def search(self, query: TransferQuery) -> SearchPage:
        return search_transfers(self._client, query, index=self._names.transfers)

    def ready(self) -> bool:
        self._client.cluster.health(timeout="1s")
        return True
