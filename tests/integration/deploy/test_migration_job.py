"""The Kubernetes migration Job (deploy/kubernetes/base/migrate-job.yaml, ADR 0031) run for real: its containers'
commands, in the Job's order, against a new database on the provisioned PostgreSQL. They leave every table the
services need, a second run applies nothing, and an unreachable server is a readable failure, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from tests.support.processes import free_port, scratch_database

from eventledger_infra.settings import Settings

JOB = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "base" / "migrate-job.yaml"


def _job_commands() -> list[list[str]]:
    pod = yaml.safe_load(JOB.read_text())["spec"]["template"]["spec"]
    return [container["command"] for container in [*pod["initContainers"], *pod["containers"]]]


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert command[:2] == ["python", "-m"], command  # the image's interpreter; here the project's
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def database(endpoints: object) -> Iterator[str]:
    with scratch_database(Settings.from_env()) as name:
        yield name


def test_the_jobs_commands_migrate_a_new_database_once(database: str) -> None:
    env = {**os.environ, "EVENTLEDGER_PG_DATABASE": database}
    commands = _job_commands()
    assert [c[2] for c in commands] == [
        "eventledger_command.migrate",
        "eventledger_projections.migrate",
        "eventledger_gateway.migrate",
    ]
    first = [_run(command, env) for command in commands]
    for result in first:
        assert result.returncode == 0, result.stdout + result.stderr
    assert "applied 001_" in first[0].stdout
    assert "live version 1" in first[1].stdout
    assert "applied 001_oauth.sql" in first[2].stdout

    settings = Settings.from_env()
    dsn = f"postgresql://{settings.pg_user}:{settings.pg_password}@{settings.host}:{settings.pg_port}/{database}"
    with psycopg.connect(dsn) as conn:
        tables = {
            f"{schema}.{table}"
            for schema, table in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
        }
        components = {row[0] for row in conn.execute("SELECT DISTINCT component FROM public.schema_migrations")}
    assert {
        "public.events",
        "public.log_checkpoints",
        "public.projector_instances",
        "public.oauth_clients",
        "public.oauth_signing_keys",
        "read_model.live_version",
        "read_model_v1.accounts",
    } <= tables
    assert {"event-store", "runtime", "gateway-oauth"} <= components  # the read model's are in its own schemas

    again = [_run(command, env) for command in commands]
    assert [r.returncode for r in again] == [0, 0, 0], [r.stderr for r in again]
    assert "(0 applied now)" in again[0].stdout
    assert "live version 1" in again[1].stdout
    assert "(0 applied now)" in again[2].stdout


def test_an_unreachable_server_is_a_readable_failure(endpoints: object) -> None:
    env = {**os.environ, "EVENTLEDGER_PG_PORT": str(free_port())}  # nothing listens there
    for command in _job_commands():
        result = _run(command, env)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr.startswith(f"python -m {command[2]}: "), result.stderr
        assert "Traceback" not in result.stderr


def test_an_argument_is_refused() -> None:
    result = _run([*_job_commands()[0], "--now"], dict(os.environ))
    assert result.returncode == 2
    assert "unrecognized arguments: --now" in result.stderr
