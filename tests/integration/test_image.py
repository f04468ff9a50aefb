"""The EventLedger image (ADR 0030) run by podman against the local servers: the command service starts from it on a
scratch database of its own, migrates it, takes a command, passes the image's HEALTHCHECK, and runs as a non-root
user."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from tests.support.podman import built_image, podman, running_container, wait_until_ready
from tests.support.processes import free_port, scratch_database
from tests.support.servers import Endpoints

from eventledger_infra import images
from eventledger_infra.settings import Settings

pytestmark = pytest.mark.timeout(1200)  # the first build on a cold cache takes minutes; later ones are skipped


@pytest.fixture(scope="module")
def image(endpoints: Endpoints) -> str:
    return built_image(Settings.from_env())


@pytest.fixture(scope="module")
def command_container(image: str) -> Iterator[tuple[str, int, str]]:
    settings = Settings.from_env()
    port = free_port()
    with scratch_database(settings) as database:
        env = {"EVENTLEDGER_COMMAND_PORT": str(port), "EVENTLEDGER_PG_DATABASE": database}
        with running_container(image, "command", env=env) as container:
            wait_until_ready(container, f"http://127.0.0.1:{port}/readyz")
            yield container, port, dataclasses.replace(settings, pg_database=database).postgres_dsn


def test_the_image_has_the_version_name_a_healthcheck_and_a_non_root_user(image: str) -> None:
    assert image == f"localhost/eventledger:{images.version()}"
    user = podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
    assert user.split(":")[0] not in {"", "0", "root"}
    healthcheck = podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image).stdout
    assert "eventledger_infra.container" in healthcheck
    assert "--health" in healthcheck


def test_the_command_service_runs_from_the_image_and_takes_a_command(command_container: tuple[str, int, str]) -> None:
    container, port, dsn = command_container
    answer = httpx.post(
        f"http://127.0.0.1:{port}/v1/accounts", json={"holder_name": "Grace Hopper", "currency": "EUR"}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    with psycopg.connect(dsn) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM events WHERE strpos(stream_id, %s) > 0", (answer.json()["account_id"],)
        )
        assert stored.fetchone() == (1,)
    health = podman("healthcheck", "run", container, check=False)
    assert health.returncode == 0, health.stdout + health.stderr


def test_the_service_runs_as_a_non_root_user_as_pid_1(command_container: tuple[str, int, str]) -> None:
    container, _, _ = command_container
    uid = podman("exec", container, "id", "-u").stdout.strip()
    assert uid not in {"", "0"}
    # PID 1 is the service itself (the entry point exec'd it), so it gets the container's stop signal.
    command = podman("exec", container, "cat", "/proc/1/cmdline").stdout.split("\0")
    assert command[1:3] == ["-m", "eventledger_command"]


def test_an_unknown_service_is_refused_with_the_list(image: str) -> None:
    result = podman("run", "--rm", *images.RUN_FLAGS, image, "no-such-service", check=False)
    assert result.returncode == 2
    assert "one of command, relay" in result.stderr


def test_the_gateway_runs_from_the_image_with_its_dashboard(image: str) -> None:
    """The gateway's package data (the dashboard's files) is in the image; its upstreams need not answer for this."""
    port = free_port()
    with running_container(image, "gateway", env={"EVENTLEDGER_GATEWAY_PORT": str(port)}) as container:
        wait_until_ready(container, f"http://127.0.0.1:{port}/healthz")
        dashboard = httpx.get(f"http://127.0.0.1:{port}/dashboard/", timeout=10)
        assert dashboard.status_code == 200, dashboard.text
        assert "<html" in dashboard.text.lower()
