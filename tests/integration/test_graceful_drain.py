"""The command and query services drain on SIGTERM (ADR 0018): a request that waits on a PostgreSQL lock the test
holds when the signal comes is answered 2xx once the lock goes, /readyz answers 503 meanwhile, and the process
exits 0."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
from tests.support.drain import assert_drains, service
from tests.support.processes import free_port, scratch_database
from tests.support.servers import Endpoints

from eventledger_infra.settings import Settings
from eventledger_projections.postgres.schema import ReadModelSchemas

WAITING_ON_A_LOCK = (
    "SELECT count(*) FROM pg_locks"
    " WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@contextlib.contextmanager
def _database() -> Iterator[tuple[str, str]]:
    """A scratch database: its name and its DSN."""
    base = Settings.from_env()
    with scratch_database(base) as name:
        yield name, dataclasses.replace(base, pg_database=name).postgres_dsn


def _waiting(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(WAITING_ON_A_LOCK).fetchone()
    return bool(row and row[0] > 0)


def test_the_command_service_finishes_a_command_in_flight_then_exits_0(endpoints: Endpoints, tmp_path: Path) -> None:
    port = free_port()
    with _database() as (name, dsn):
        env = {"EVENTLEDGER_PG_DATABASE": name, "EVENTLEDGER_COMMAND_PORT": str(port)}
        with service(["eventledger_command"], env, tmp_path / "command.log", port) as command:
            holder = psycopg.connect(dsn)
            try:
                holder.execute("LOCK TABLE events IN EXCLUSIVE MODE")  # reads go on, appends wait
                answer = assert_drains(
                    command,
                    lambda: httpx.post(
                        f"http://127.0.0.1:{port}/v1/accounts",
                        json={"holder_name": "Ada", "currency": "EUR"},
                        headers={"X-Actor": "drain-test"},
                        timeout=30,
                    ),
                    in_flight=lambda: _waiting(dsn),
                    release=holder.rollback,
                )
            finally:
                holder.close()
        assert answer.status_code == 201, answer.text
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM events").fetchone()
        assert row is not None
        assert row[0] >= 1  # the account was opened: the command was not abandoned


def test_the_query_service_finishes_a_read_in_flight_then_exits_0(endpoints: Endpoints, tmp_path: Path) -> None:
    port = free_port()
    with _database() as (name, dsn):
        with psycopg.connect(dsn, autocommit=True) as conn:
            live = ReadModelSchemas().ensure_live(conn)
        env = {"EVENTLEDGER_PG_DATABASE": name, "EVENTLEDGER_QUERY_PORT": str(port)}
        with service(["eventledger_query"], env, tmp_path / "query.log", port) as query:
            holder = psycopg.connect(dsn)
            try:
                holder.execute(f'LOCK TABLE "{live.schema}".accounts IN ACCESS EXCLUSIVE MODE')
                answer = assert_drains(
                    query,
                    lambda: httpx.get(f"http://127.0.0.1:{port}/v1/accounts?limit=5", timeout=30),
                    in_flight=lambda: _waiting(dsn),
                    release=holder.rollback,
                )
            finally:
                holder.close()
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"] == []
