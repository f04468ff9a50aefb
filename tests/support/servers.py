"""Where the tests find PostgreSQL, Redis, Kafka, Elasticsearch and the schema registry.

The locally provisioned servers (``make up``; settings from ``EVENTLEDGER_*`` variables) are used when they
answer. Where they do not and a Docker engine answers, throwaway containers are started with testcontainers.
Otherwise the test fails and says how to start them: a test that claims to cover a server never runs without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from eventledger_infra import probes
from eventledger_infra.process import port_in_use
from eventledger_infra.services.base import LocalServer
from eventledger_infra.services.kafka import KafkaServer
from eventledger_infra.settings import Settings


@dataclass(frozen=True)
class Endpoints:
    postgres_dsn: str
    redis_url: str
    kafka_bootstrap: str
    elasticsearch_url: str
    registry_url: str


def _answers(check: object) -> bool:
    try:
        return bool(check())  # type: ignore[operator]
    except Exception:
        return False


def _postgres_answers(settings: Settings) -> bool:
    import psycopg

    with psycopg.connect(settings.postgres_dsn, connect_timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def local_servers_answer(settings: Settings) -> dict[str, bool]:
    return {
        "postgres": _answers(lambda: _postgres_answers(settings)),
        "redis": _answers(lambda: probes.redis_ping(settings)),
        "kafka": _answers(lambda: probes.kafka_broker_count(settings) >= 1),
        "elasticsearch": _answers(lambda: probes.elasticsearch_health(settings) in {"green", "yellow"}),
        "registry": _answers(lambda: probes.registry_subjects(settings) is not None),
    }


def docker_answers() -> bool:
    """Whether a Docker-compatible engine answers where testcontainers looks (``DOCKER_HOST`` or Docker's socket),
    asked through the same client library testcontainers uses (no ``docker`` command needed)."""
    import docker  # type: ignore[import-untyped]  # testcontainers' client library; no stubs pinned

    try:
        client = docker.from_env(timeout=10)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False
    finally:
        client.close()


CONTAINER_IMAGES = {
    "postgres": "postgres:15",
    "redis": "redis:7",
    "kafka": "apache/kafka:4.1.1",
    "elasticsearch": f"elasticsearch:{Settings().es_version}",
}
"""The official images testcontainers starts; ``EVENTLEDGER_TEST_<SERVER>_IMAGE`` names another with the same
interface (the tests under podman use ``localhost/eventledger-postgres:15``, built from Debian's packages)."""


def container_image(server: str) -> str:
    return os.environ.get(f"EVENTLEDGER_TEST_{server.upper()}_IMAGE", CONTAINER_IMAGES[server])


@contextlib.contextmanager
def provide_endpoints() -> Iterator[Endpoints]:
    settings = Settings.from_env()
    answering = local_servers_answer(settings)
    if all(answering.values()):
        yield Endpoints(
            settings.postgres_dsn,
            settings.redis_url,
            settings.kafka_bootstrap,
            settings.elasticsearch_url,
            settings.registry_url,
        )
        return
    missing = [name for name, ok in answering.items() if not ok]
    if not docker_answers() or not answering["registry"]:  # no container is offered for the registry
        raise RuntimeError(
            f"these servers do not answer: {', '.join(missing)}. Start them with `make up` "
            "(or run the tests with `make test`, which starts and stops them)."
        )
    with _containers(settings, answering) as endpoints:
        yield endpoints


@contextlib.contextmanager
def _containers(settings: Settings, answering: dict[str, bool]) -> Iterator[Endpoints]:
    """Start a container for each server that does not answer locally (only where a Docker engine runs)."""
    from testcontainers.community.elasticsearch import ElasticSearchContainer
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer

    with contextlib.ExitStack() as stack:
        dsn, redis_url = settings.postgres_dsn, settings.redis_url
        bootstrap, es_url = settings.kafka_bootstrap, settings.elasticsearch_url
        if not answering["postgres"]:
            pg = stack.enter_context(PostgresContainer(container_image("postgres"), driver=None))
            dsn = pg.get_connection_url()
        if not answering["redis"]:
            redis = stack.enter_context(RedisContainer(container_image("redis")))
            redis_url = f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
        if not answering["kafka"]:
            kafka = stack.enter_context(KafkaContainer(container_image("kafka")).with_kraft())
            bootstrap = kafka.get_bootstrap_server()
        if not answering["elasticsearch"]:
            es = stack.enter_context(ElasticSearchContainer(container_image("elasticsearch")))
            es_url = f"http://{es.get_container_host_ip()}:{es.get_exposed_port(9200)}"
        yield Endpoints(dsn, redis_url, bootstrap, es_url, settings.registry_url)


@contextlib.contextmanager
def private_kafka_server(state_dir: Path) -> Iterator[KafkaServer]:
    """A broker of one test's own: the cached artifacts, its own state folder and free ports."""
    settings = dataclasses.replace(
        Settings.from_env(),
        state_dir=state_dir,
        kafka_port=restartable_port(span=2),  # the controller takes the next port
    )
    kafka = KafkaServer(settings)
    kafka.install()
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()


def restartable_port(span: int = 1) -> int:
    """A free port (the first of ``span`` free ones in a row: Kafka's controller listens on the port after the
    broker's) for a server that a test restarts, outside the kernel's ephemeral range: while the server is down, its
    clients keep reconnecting, and a client whose ephemeral source port equals the server's port connects to itself
    (a TCP self-connect) and holds the port, so the server cannot start again."""
    low, _high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(200):
        port = random.randint(20000, min(low, 32768) - span)
        if not any(port_in_use("127.0.0.1", port + n) for n in range(span)):
            return port
    raise RuntimeError("no free port below the ephemeral range")


def restart(server: LocalServer, *, kill: bool) -> None:
    """SIGKILL (or stop gracefully) a local server, then start it again; returns once it answers a real query.

    After a SIGKILL the JVM's main thread shows as a zombie (dead to ``running()``) while its other threads still
    close their sockets: the ports are awaited too, or the start would find them taken.
    """
    if kill:
        pid = server.pid()
        assert pid is not None, f"{server.name} is not running"
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: not server.running(), f"the killed {server.name} to be gone")
    else:
        assert server.stop(), f"{server.name} did not stop"
    ports = server_ports(server)
    _wait(lambda: not any(port_in_use("127.0.0.1", p) for p in ports), f"the ports {ports} to be free")
    server.start()


def server_ports(server: LocalServer) -> list[int]:
    s = server.settings
    return {
        "kafka": [s.kafka_port, s.controller_port],
        "postgres": [s.pg_port],
        "redis": [s.redis_port],
        "elasticsearch": [s.es_port],
    }[server.name]


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
