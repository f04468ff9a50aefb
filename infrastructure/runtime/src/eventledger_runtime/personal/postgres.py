"""The data-key store in PostgreSQL: the table ``personal_data_keys`` in the event store's database (migrations in
``eventledger_runtime/personal/sql/``, component ``personal-data-keys``).

An erasure clears the wrapped key in one statement and then VACUUMs the table, so that the old row version holding
the wrapped key leaves the table's pages, not only its visible rows. What VACUUM cannot reach is said in
docs/audit.md: older WAL segments and base backups keep the wrapped key until the key-encryption key that wrapped
it is retired (rotate it with :meth:`rewrap`, then drop the old one from the settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from eventledger_events.personal import DataKey
from eventledger_runtime.migrations import migrate
from eventledger_runtime.personal.port import (
    DataKeyStore,
    Erasure,
    KeyEncryptionKeys,
    SubjectErased,
    UnknownDataKey,
)

MIGRATIONS = ("personal-data-keys", "eventledger_runtime.personal")

_COLUMNS = "subject, key_id, kek_id, wrapped_key, erased_at, erased_by, erasure_reason"
_ERASE = f"""
INSERT INTO personal_data_keys AS k (subject, key_id, erased_at, erased_by, erasure_reason)
VALUES (%(subject)s, %(key_id)s, now(), %(by)s, %(reason)s)
ON CONFLICT (subject) DO UPDATE SET wrapped_key = NULL, kek_id = NULL, erased_at = now(),
    erased_by = excluded.erased_by, erasure_reason = excluded.erasure_reason
WHERE k.erased_at IS NULL
RETURNING {_COLUMNS}
"""


class PostgresDataKeyStore(DataKeyStore):
    """The store in the database (and ``search_path``) of ``dsn``, or over an autocommit pool its owner lends (and
    closes: :meth:`close` leaves it open); it applies its migration on start."""

    def __init__(
        self,
        dsn: str | None,
        keks: KeyEncryptionKeys,
        *,
        pool_size: int = 2,
        name: str = "data-keys",
        pool: ConnectionPool | None = None,
    ) -> None:
        self._keks = keks
        if pool is not None:
            if dsn is not None:
                raise ValueError("give the store a dsn or a pool, not both")
            self._pool, self._owns_pool = pool, False
            with pool.connection() as conn:
                migrate(conn, *MIGRATIONS)
            return
        if dsn is None:
            raise ValueError("give the store a dsn or a pool")
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn, *MIGRATIONS)
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, open=True, kwargs={"autocommit": True}, name=name
        )
        self._owns_pool = True

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    def key_for(self, subject: str) -> DataKey:
        with self._pool.connection() as conn:
            row = _one(conn, subject)
            if row is None:
                key = DataKey.generate(subject)
                kek, wrapped = self._keks.wrap(key)
                conn.execute(
                    "INSERT INTO personal_data_keys (subject, key_id, kek_id, wrapped_key) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (subject) DO NOTHING",
                    [subject, key.key_id, kek, wrapped],
                )
                row = _one(conn, subject)  # ours, or the key of whoever was first
        assert row is not None
        return self._open(row)

    def keys(self, key_ids: Iterable[str]) -> dict[str, DataKey | None]:
        wanted = list(dict.fromkeys(key_ids))
        if not wanted:
            return {}
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM personal_data_keys WHERE key_id = ANY(%s)", [wanted]
            ).fetchall()
        by_id = {row[1]: row for row in rows}
        found: dict[str, DataKey | None] = {}
        for key_id in wanted:
            row = by_id.get(key_id)
            if row is None:
                raise UnknownDataKey(key_id)
            found[key_id] = None if row[4] is not None else self._open(row)
        return found

    def erase(self, subject: str, *, erased_by: str, reason: str) -> Erasure:
        params = {"subject": subject, "key_id": DataKey.generate(subject).key_id, "by": erased_by, "reason": reason}
        with self._pool.connection() as conn:
            erased_now = conn.execute(_ERASE, params).fetchone() is not None
            if erased_now:
                conn.execute("VACUUM personal_data_keys")
            row = _one(conn, subject)
        assert row is not None
        assert row[4] is not None
        return _erasure(row)

    def erasure(self, subject: str) -> Erasure | None:
        with self._pool.connection() as conn:
            row = _one(conn, subject)
        return None if row is None or row[4] is None else _erasure(row)

    def rewrap(self) -> int:
        moved = 0
        with self._pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM personal_data_keys"
                " WHERE erased_at IS NULL AND kek_id <> %s ORDER BY subject FOR UPDATE",
                [self._keks.current_id],
            ).fetchall()
            for row in rows:
                kek, wrapped = self._keks.wrap(self._open(row))
                conn.execute(
                    "UPDATE personal_data_keys SET kek_id = %s, wrapped_key = %s WHERE subject = %s",
                    [kek, wrapped, row[0]],
                )
                moved += 1
        if moved:
            with self._pool.connection() as conn:
                conn.execute("VACUUM personal_data_keys")
        return moved

    def _open(self, row: tuple[Any, ...]) -> DataKey:
        subject, key_id, kek, wrapped, erased_at = row[:5]
        if erased_at is not None:
            raise SubjectErased(subject)
        return self._keks.unwrap(key_id, subject, kek, bytes(wrapped))


def _one(conn: psycopg.Connection[Any], subject: str) -> tuple[Any, ...] | None:
    return conn.execute(f"SELECT {_COLUMNS} FROM personal_data_keys WHERE subject = %s", [subject]).fetchone()


def _erasure(row: tuple[Any, ...]) -> Erasure:
    return Erasure(row[0], row[1], row[4], row[5], row[6])
