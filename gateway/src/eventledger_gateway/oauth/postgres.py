"""The client registry and the signing-key store in PostgreSQL (tables of ``sql/001_oauth.sql``, migrated at start).

Both share one small async pool. The key rotation runs in one transaction under a transaction-scoped advisory lock,
so that of gateways rotating at once exactly one does (the others find the fresh key and do nothing); the partial
unique index ``oauth_signing_keys_one_active`` makes two active keys impossible even without the lock.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from eventledger_gateway.oauth.clients import Client, ClientExists, StoredClient
from eventledger_gateway.oauth.keys import StoredKey
from eventledger_runtime.migrations import migrate

COMPONENT = "gateway-oauth"
_ROTATION_LOCK = zlib.crc32(b"eventledger-oauth-signing-key-rotation")
_CLIENT_COLUMNS = "client_id, name, roles, scopes, created_at, secret_rotated_at, disabled_at"


def migrate_oauth_tables(dsn: str) -> list[str]:
    """Create or update the tables (blocking; call it before serving)."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        return migrate(conn, COMPONENT, "eventledger_gateway.oauth")


def open_pool(dsn: str, *, size: int = 4) -> AsyncConnectionPool:
    """A pool that connects in the background: the gateway starts (and serves development tokens and every
    read) while PostgreSQL is down; the token endpoint answers 503 until it is back."""
    return AsyncConnectionPool(dsn, min_size=1, max_size=size, open=False, timeout=2.0, kwargs={"autocommit": True})


class PostgresClientRegistry:
    """:class:`~eventledger_gateway.oauth.clients.ClientRegistry` in ``oauth_clients``."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def add(self, stored: StoredClient) -> None:
        c = stored.client
        try:
            async with self._pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO oauth_clients (client_id, name, secret_hash, roles, scopes, created_at,"
                    " secret_rotated_at, disabled_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        c.client_id,
                        c.name,
                        stored.secret_hash,
                        list(c.roles),
                        list(c.scopes),
                        c.created_at,
                        c.secret_rotated_at,
                        c.disabled_at,
                    ],
                )
        except psycopg.errors.UniqueViolation:
            raise ClientExists(c.client_id) from None

    async def get(self, client_id: str) -> StoredClient | None:
        row = await self._one(
            f"SELECT {_CLIENT_COLUMNS}, secret_hash FROM oauth_clients WHERE client_id = %s", [client_id]
        )
        return None if row is None else StoredClient(_client(row), row["secret_hash"])

    async def all(self) -> list[Client]:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(f"SELECT {_CLIENT_COLUMNS} FROM oauth_clients ORDER BY created_at, client_id")
            return [_client(row) for row in await cursor.fetchall()]

    async def set_disabled(self, client_id: str, at: datetime | None) -> Client | None:
        row = await self._one(
            f"UPDATE oauth_clients SET disabled_at = %s WHERE client_id = %s RETURNING {_CLIENT_COLUMNS}",
            [at, client_id],
        )
        return None if row is None else _client(row)

    async def replace_secret(self, client_id: str, secret_hash: str, at: datetime) -> Client | None:
        row = await self._one(
            "UPDATE oauth_clients SET secret_hash = %s, secret_rotated_at = %s WHERE client_id = %s"
            f" RETURNING {_CLIENT_COLUMNS}",
            [secret_hash, at, client_id],
        )
        return None if row is None else _client(row)

    async def _one(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(sql, params)
            return await cursor.fetchone()


class PostgresSigningKeyStore:
    """:class:`~eventledger_gateway.oauth.keys.SigningKeyStore` in ``oauth_signing_keys``."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def published(self, now: datetime) -> list[StoredKey]:
        async with self._pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                "SELECT kid, algorithm, private_key, public_jwk, created_at, retired_at, published_until"
                " FROM oauth_signing_keys WHERE retired_at IS NULL OR published_until > %s ORDER BY created_at DESC",
                [now],
            )
            return [
                StoredKey(
                    row["kid"],
                    row["algorithm"],
                    bytes(row["private_key"]),
                    row["public_jwk"],
                    row["created_at"],
                    row["retired_at"],
                    row["published_until"],
                )
                for row in await cursor.fetchall()
            ]

    async def rotate(
        self, new: StoredKey, *, retire_at: datetime, publish_until: datetime, only_if_older_than: datetime | None
    ) -> bool:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_ROTATION_LOCK])
            if only_if_older_than is not None:
                fresh = await conn.execute(
                    "SELECT 1 FROM oauth_signing_keys WHERE retired_at IS NULL AND created_at > %s",
                    [only_if_older_than],
                )
                if await fresh.fetchone() is not None:
                    return False
            await conn.execute(
                "UPDATE oauth_signing_keys SET retired_at = %s, published_until = %s WHERE retired_at IS NULL",
                [retire_at, publish_until],
            )
            await conn.execute(
                "INSERT INTO oauth_signing_keys (kid, algorithm, private_key, public_jwk, created_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                [new.kid, new.algorithm, new.private_key, Jsonb(new.public_jwk), new.created_at],
            )
            return True


def _client(row: dict[str, Any]) -> Client:
    return Client(
        row["client_id"],
        row["name"],
        tuple(row["roles"]),
        tuple(row["scopes"]),
        row["created_at"],
        row["secret_rotated_at"],
        row["disabled_at"],
    )
