"""The provisioning tool against the real servers: idempotent `up`, clear failures, no root-run servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.servers import Endpoints, restartable_port

from eventledger_infra.cli import SERVICE_TYPES
from eventledger_infra.services.elasticsearch import ElasticsearchServer
from eventledger_infra.services.postgres import PostgresServer
from eventledger_infra.settings import PROJECT_ROOT, Settings


def _infra(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventledger_infra", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "infrastructure" / "src"), **(env or {})},
    )


def test_up_when_everything_runs_changes_nothing_and_succeeds(endpoints: Endpoints) -> None:
    result = _infra("up")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("already running") == len(SERVICE_TYPES)
    status = _infra("status")
    assert status.returncode == 0
    assert status.stdout.count(" ready ") == len(SERVICE_TYPES)


def test_a_port_taken_by_a_foreign_process_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = _infra(
            "up", "redis", env={"EVENTLEDGER_STATE_DIR": str(tmp_path), "EVENTLEDGER_REDIS_PORT": str(port)}
        )
    assert result.returncode == 1
    assert f"port 127.0.0.1:{port} is already taken" in result.stderr
    assert "EVENTLEDGER_REDIS_PORT" in result.stderr


def test_a_server_that_dies_on_start_fails_with_the_tail_of_its_log(tmp_path: Path) -> None:
    # Storage counts as formatted, so the broker JVM itself is what fails, on an impossible heap size.
    (tmp_path / "kafka" / "data").mkdir(parents=True)
    (tmp_path / "kafka" / "data" / "meta.properties").write_text("version=1\n")
    result = _infra(
        "up",
        "kafka",
        env={
            "EVENTLEDGER_STATE_DIR": str(tmp_path),
            "EVENTLEDGER_KAFKA_HEAP": "12parsecs",
            "EVENTLEDGER_KAFKA_PORT": str(restartable_port(span=2)),  # the controller takes the next one
        },
    )
    assert result.returncode == 1
    assert "Kafka exited during start-up. Last lines of" in result.stderr
    assert "Invalid" in result.stderr
    assert "heap size" in result.stderr


def test_servers_that_refuse_root_run_as_the_service_user(endpoints: Endpoints) -> None:
    settings = Settings.from_env()
    for server in (PostgresServer(settings), ElasticsearchServer(settings)):
        pid = server.pid()
        assert pid is not None, f"{server.name} is not running"
        uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
        assert uid != 0, f"{server.name} runs as root"
