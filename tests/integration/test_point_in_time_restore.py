"""Point-in-time restore (``python -m eventledger_infra restore --to``) on a PostgreSQL cluster of this module's own
with continuous backup (ADR 0033): commits after the target are gone, the restored cluster takes writes on a new
timeline, a later restore to the latest follows that timeline, and a target after the last commit is refused with a
message. The state folder is outside pytest's temporary folder (see the drill's fixture for why)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from tests.support.clusters import private_cluster
from tests.support.servers import Endpoints

from eventledger_infra.services.postgres import PostgresServer
from eventledger_infra.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def cluster(endpoints: Endpoints) -> Iterator[PostgresServer]:
    with private_cluster(continuous_backup=True, tag="pitr") as server:
        yield server


def _infra(server: PostgresServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT / "infrastructure" / "src"),
        "EVENTLEDGER_STATE_DIR": str(server.settings.state_dir),
        "EVENTLEDGER_PG_PORT": str(server.settings.pg_port),
    }
    command = [sys.executable, "-m", "eventledger_infra", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)


def _sql(server: PostgresServer, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(server.settings.postgres_dsn, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def _numbers(server: PostgresServer) -> list[int]:
    return [int(str(row[0])) for row in _sql(server, "SELECT n FROM numbers ORDER BY n")]


def _restore(server: PostgresServer, *args: str) -> subprocess.CompletedProcess[str]:
    server.stop()
    return _infra(server, "restore", *args)


def test_a_restore_to_a_time_drops_the_later_commits_and_goes_on_from_there(cluster: PostgresServer) -> None:
    _sql(cluster, "CREATE TABLE numbers (n int PRIMARY KEY)")
    taken = _infra(cluster, "backup")
    assert taken.returncode == 0, taken.stderr
    for n in range(1, 6):
        _sql(cluster, f"INSERT INTO numbers VALUES ({n})")
    time.sleep(0.5)
    target = datetime.now(UTC)
    time.sleep(0.5)
    for n in range(6, 11):
        _sql(cluster, f"INSERT INTO numbers VALUES ({n})")

    running = _infra(cluster, "restore", "--to", target.isoformat())
    assert running.returncode == 1
    assert "PostgreSQL is running" in running.stderr

    restored = _restore(cluster, "--to", target.isoformat())
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert _numbers(cluster) == [1, 2, 3, 4, 5]
    _sql(cluster, "INSERT INTO numbers VALUES (11)")  # through the restarted synchronous receiver

    after_the_end = _restore(cluster, "--to", datetime.now(UTC).isoformat())
    assert after_the_end.returncode == 1
    assert "after the last commit the backups hold" in after_the_end.stderr, after_the_end.stderr

    latest = _restore(cluster)
    assert latest.returncode == 0, latest.stdout + latest.stderr
    assert _numbers(cluster) == [1, 2, 3, 4, 5, 11], "the latest is the new timeline's last commit"
