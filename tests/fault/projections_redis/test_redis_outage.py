"""Redis stopped for 30 s under load and started again: the projector waits (a transient failure is retried, never
parked), catches up and converges to a replay of the event store. Twice: a Redis that keeps its data (append-only
file, as deployed), and one that comes back empty (no persistence), which the projection notices (the live pointer is
gone) and refills from Kafka.

The shared Redis is never touched: each test runs its own ``redis-server`` on a free port and stops that one.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from tests.support.background import Repeatedly
from tests.support.processes import free_port, scratch_database, wait_for
from tests.support.projection_rig import (
    Workload,
    create_topics,
    delete_topics,
    new_namespace,
    relay_running,
    settings_for,
)
from tests.support.redis_rig import RedisProjector, assert_redis_matches, new_base
from tests.support.servers import Endpoints

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_infra.settings import Settings
from eventledger_projections.redis.connection import connect
from eventledger_projections.redis.keys import KeySpace

OUTAGE_SECONDS = 30


class ThrowawayRedis:
    """A ``redis-server`` child process of this test, on its own port and directory."""

    def __init__(self, directory: Path, *, persistent: bool) -> None:
        self.port = free_port()
        self.directory = directory
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"]
        command += ["--dir", str(self.directory), "--appendonly", "yes" if self.persistent else "no"]
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            wait_for(lambda: _pings(client), 20, f"redis-server on port {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file, if it has one, and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def running_redis(directory: Path, *, persistent: bool) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(directory, persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("persistent", [True, False], ids=["keeps-its-data", "comes-back-empty"])
def test_redis_stopped_for_30_s_under_load_and_started_again_converges(
    endpoints: Endpoints, tmp_path: Path, persistent: bool
) -> None:
    with scratch_database(Settings.from_env()) as database, running_redis(tmp_path, persistent=persistent) as server:
        settings = settings_for(database)
        namespace = new_namespace("redis-outage")
        base = new_base()
        create_topics(settings.kafka_bootstrap, namespace)
        store = PostgresEventStore(settings.postgres_dsn, pool_size=4)
        client = connect(server.url)
        workload = Workload(store, seed=51 if persistent else 52)
        try:
            with (
                relay_running(store, settings.postgres_dsn, settings.kafka_bootstrap, namespace),
                RedisProjector.running(settings, namespace, base, redis_url=server.url) as projector,
            ):
                with Repeatedly(lambda: workload.run(5), pause=0.05) as load:
                    projector.wait_until_reflected(1, timeout=60)
                    time.sleep(2)
                    server.stop()
                    stopped = datetime.now(UTC)
                    stopped_at = store.head_position()
                    time.sleep(OUTAGE_SECONDS)
                    written_meanwhile = store.head_position() - stopped_at
                    assert projector.thread.is_alive(), "the projector waits for Redis instead of dying"
                    server.start()
                    time.sleep(3)
                projector.wait_until_reflected(store.head_position(), timeout=120)
            assert not load.errors, load.errors
            assert written_meanwhile > 50, "the load went on during the outage"
            assert_redis_matches(store, client, base)
            keys = KeySpace(base)
            created = datetime.fromisoformat(str(client.hget(keys.meta(int(client.get(keys.live) or 0)), "created_at")))
            if persistent:
                assert created < stopped, "a Redis that kept its data keeps its live version"
            else:
                assert created > stopped, "an empty Redis got a new live version, refilled from Kafka"
        finally:
            client.close()
            store.close()
            delete_topics(settings.kafka_bootstrap, namespace)
