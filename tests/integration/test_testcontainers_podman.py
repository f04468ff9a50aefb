"""The tests' testcontainers path (tests/support/servers.py), which users with a Docker engine rely on, run here
through podman's Docker-compatible API (ADR 0030): with the local PostgreSQL made unreachable, the ``endpoints``
fixture starts a PostgreSQL container (``localhost/eventledger-postgres:15``, built from Debian's packages) and the
event-store contract suite runs against it. Ryuk, testcontainers' reaper container, is disabled
(``TESTCONTAINERS_RYUK_DISABLED``): its image is not available here, and the fixture removes what it started."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.podman import docker_api
from tests.support.processes import free_port
from tests.support.servers import docker_answers

from eventledger_infra import images
from eventledger_infra.process import ProvisioningError
from eventledger_infra.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def docker_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    try:
        image = images.build_postgres(Settings.from_env())
    except ProvisioningError as exc:
        raise AssertionError(str(exc)) from exc
    with docker_api(tmp_path_factory.mktemp("podman")) as url:
        yield {
            "DOCKER_HOST": url,
            "TESTCONTAINERS_RYUK_DISABLED": "true",
            # The engine runs beside the tests, on this host: its published ports are on our loopback. Without these
            # testcontainers, seeing that it runs inside a container, asks for the container's bridge network, which
            # podman's container list does not describe.
            "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
            "TC_HOST": "127.0.0.1",
            "EVENTLEDGER_TEST_POSTGRES_IMAGE": image,
        }


def test_a_docker_client_finds_podmans_api(docker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_env["DOCKER_HOST"])
    assert docker_answers()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{Path(docker_env['DOCKER_HOST'][7:]).with_name('nothing.sock')}")
    assert not docker_answers()


def test_the_event_store_contract_passes_on_a_postgres_container_started_by_the_fixture(
    docker_env: dict[str, str],
) -> None:
    unreachable = free_port()  # nothing listens there: the local PostgreSQL does not answer, the container does
    env = {**os.environ, **docker_env, "EVENTLEDGER_PG_PORT": str(unreachable)}
    suite = PROJECT_ROOT / "tests" / "contract" / "test_event_store_contract.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-q", "-p", "no:cacheprovider", "-k", "postgres"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=800,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert " passed" in output
    assert " failed" not in output
    assert " error" not in output
