"""The whole system as `make up` runs it (the supervisor and every service as real processes), isolated from
anything else on the servers: its own database, topic namespace, Redis key base, Elasticsearch prefix and state
folder. For the end-to-end and fault tiers."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from eventledger_infra import system
from eventledger_infra.process import port_in_use
from eventledger_infra.settings import Settings
from eventledger_runtime.settings import Namespace
from tests.support.kafka_groups import delete_groups_with_prefix
from tests.support.logscan import require_no_unexpected_errors
from tests.support.processes import scratch_database

ROLES = ("writer", "reader", "auditor", "admin")


@dataclass
class RunningSystem:
    settings: Settings
    env: dict[str, str]
    gateway_url: str
    state_dir: Path
    output: str

    def token(self, *roles: str, subject: str = "e2e-client") -> str:
        command = [sys.executable, "-m", "eventledger_gateway", "token", "--subject", subject]
        for role in roles:
            command += ["--role", role]
        result = subprocess.run(command, capture_output=True, text=True, check=True, env=self.env)
        return result.stdout.strip()

    def service_pid(self, name: str) -> int:
        return int((self.state_dir / "system" / f"{name}.pid").read_text().split()[0])


@contextlib.contextmanager
def running_system(
    state_dir: Path,
    *,
    kafka_port: int | None = None,
    extra_env: dict[str, str] | None = None,
    replicas: int = 1,
    prometheus: bool = False,
) -> Iterator[RunningSystem]:
    """``kafka_port``: run the system against that broker (a test's private one) instead of the shared one;
    ``extra_env``: settings of the test's own; ``replicas``: instances of each service (``make up REPLICAS=N``);
    ``prometheus``: Prometheus too (``make up PROMETHEUS=1``)."""
    base = Settings.from_env()
    if kafka_port is not None:
        base = dataclasses.replace(base, kafka_port=kafka_port)
    ports = {spec.name: spec.port for spec in system.services(replicas)}
    ports.update({f"{system.LOAD_BALANCER} ({service})": port for service, port in system.public_ports().items()})
    ports[f"{system.LOAD_BALANCER} (operations)"] = system.load_balancer_ops_port()
    if prometheus:
        ports[system.PROMETHEUS] = system.prometheus_port()
    busy = [name for name, port in ports.items() if port_in_use("127.0.0.1", port)]
    if busy:
        raise RuntimeError(f"ports of {', '.join(busy)} are taken: stop a running `make up` first (make down)")
    tag = uuid.uuid4().hex[:8]
    names = Namespace(f"e2e-{tag}")
    namespace, prefix, key_base = names.topic_prefix, names.index_prefix, names.redis_prefix
    with scratch_database(base) as database:
        settings = dataclasses.replace(base, pg_database=database, state_dir=state_dir)
        env = {
            **os.environ,
            "EVENTLEDGER_STATE_DIR": str(state_dir),
            "EVENTLEDGER_PG_DATABASE": database,
            # Its own topics, consumer groups, Redis keys and indices: all derive from the namespace.
            "EVENTLEDGER_NAMESPACE": names.value,
            # The test machine runs every tier at once on 2 cores: give read-your-writes room before a 503.
            "EVENTLEDGER_QUERY_MIN_POSITION_WAIT_SECONDS": "10",
            "EVENTLEDGER_KAFKA_PORT": str(base.kafka_port),
            **(extra_env or {}),
        }
        up = subprocess.run(
            [
                sys.executable,
                "-m",
                "eventledger_infra",
                "system",
                "up",
                "--replicas",
                str(replicas),
                *(["--prometheus"] if prometheus else []),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        try:
            if up.returncode != 0:
                raise RuntimeError(f"system up failed:\n{up.stdout}\n{up.stderr}")
            scheme = "https" if env.get(system.TLS_VARIABLES[0]) else "http"  # HAProxy serves the certificate
            yield RunningSystem(settings, env, f"{scheme}://127.0.0.1:18080", state_dir, up.stdout)
        finally:
            subprocess.run(
                [sys.executable, "-m", "eventledger_infra", "system", "down"],
                env=env,
                timeout=120,
                check=False,
                capture_output=True,
            )
            _clean(settings, namespace, prefix, key_base)
    # Reached only when the tier's tests ended normally (an error of theirs is the one to report).
    require_no_unexpected_errors(system.system_dir(settings))


def _clean(settings: Settings, namespace: str, prefix: str, key_base: str) -> None:
    delete_groups_with_prefix(settings.kafka_bootstrap, namespace, prefix)  # projectors' groups, the faust app
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(namespace)]
    if topics:
        for future in admin.delete_topics(topics).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)
    es = Elasticsearch(settings.elasticsearch_url)
    with contextlib.suppress(Exception):
        es.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True)
    client = redis.Redis.from_url(settings.redis_url)
    keys = list(client.scan_iter(match=f"{key_base}*", count=1000))
    if keys:
        client.delete(*keys)
