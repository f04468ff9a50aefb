"""podman for the tests (ADR 0030): the EventLedger image built once per session (skipped while the sources are
unchanged), containers run with this host's flags, and podman's Docker-compatible API for testcontainers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from eventledger_infra import images
from eventledger_infra.process import ProvisioningError
from eventledger_infra.settings import Settings


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, check=False, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def built_image(settings: Settings) -> str:
    """``localhost/eventledger:<version>``, built now only when missing or when its sources changed."""
    try:
        return images.build(settings)
    except ProvisioningError as exc:
        raise AssertionError(str(exc)) from exc


@contextlib.contextmanager
def running_container(image: str, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A detached container on the host's network (it reaches the local servers on 127.0.0.1), removed after."""
    flags = [flag for name, value in (env or {}).items() for flag in ("--env", f"{name}={value}")]
    container = podman("run", "--detach", *images.RUN_FLAGS, "--network", "host", *flags, image, *args).stdout.strip()
    try:
        yield container
    finally:
        podman("stop", "--time", "20", container, check=False, timeout=60)
        podman("rm", "--force", container, check=False, timeout=60)


def logs(container: str) -> str:
    result = podman("logs", "--tail", "40", container, check=False)
    return (result.stdout + result.stderr)[-4000:]


def wait_until_ready(container: str, url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Running}}", container, check=False).stdout.strip()
        if state != "true":
            raise AssertionError(f"the container stopped:\n{logs(container)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer 200 within {timeout:.0f} s:\n{logs(container)}")


def containers_conf(directory: Path) -> Path:
    """The runtime and ulimits this host needs, for podman processes that take no flags (its API service)."""
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "containers.conf"
    ulimits = ", ".join(f'"{limit}"' for limit in images.ULIMITS)
    conf.write_text(f'[containers]\ndefault_ulimits = [{ulimits}]\n\n[engine]\nruntime = "runc"\n')
    return conf


@contextlib.contextmanager
def docker_api(directory: Path) -> Iterator[str]:
    """``podman system service`` on a socket of its own: a Docker-compatible API at the answered ``unix://`` URL."""
    socket = directory / "podman.sock"
    socket.unlink(missing_ok=True)
    env = {**os.environ, "CONTAINERS_CONF": str(containers_conf(directory))}
    log = (directory / "podman-service.log").open("ab")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            if service.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"podman system service did not start:\n{(directory / 'podman-service.log').read_text()[-2000:]}"
                )
            time.sleep(0.1)
        yield f"unix://{socket}"
    finally:
        service.terminate()
        try:
            service.wait(20)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(5)
