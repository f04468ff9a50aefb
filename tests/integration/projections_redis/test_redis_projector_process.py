"""The Redis projector as an operator runs it: ``python -m eventledger_projections run redis`` is the shared
projector process (ops endpoint, signals) with the Redis read model; it projects, and stops cleanly on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis
from tests.support.http_service import local_get
from tests.support.processes import ManagedProcess, free_port, scratch_database, wait_for
from tests.support.projection_rig import (
    Workload,
    create_topics,
    delete_topics,
    namespace_of,
    new_namespace,
    projector_env,
    relay_running,
    settings_for,
)
from tests.support.redis_rig import assert_redis_matches, delete_base
from tests.support.servers import Endpoints

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_infra.settings import Settings
from eventledger_projections.redis import RedisReadModel
from eventledger_projections.redis.connection import connect


class RedisProjectorProcess(ManagedProcess):
    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed when it exits
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "run", "redis"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()


def _reflected(client: redis.Redis, base: str) -> int:
    return RedisReadModel(client, base=base).reflected_position()


def test_the_redis_projector_process_projects_serves_ops_and_stops_on_sigterm(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    with scratch_database(Settings.from_env()) as database:
        settings = settings_for(database)
        namespace = new_namespace("redis-proc")
        base = namespace_of(namespace).redis_base
        create_topics(settings.kafka_bootstrap, namespace)
        store = PostgresEventStore(settings.postgres_dsn, pool_size=2)
        client = connect(settings.redis_url)
        port = free_port()
        env = projector_env(database, namespace, port)
        projector = RedisProjectorProcess("eventledger_projections", env, tmp_path)
        try:
            projector.start()
            wait_for(lambda: local_get(port, "/readyz")[0] == 200, 30, f"readiness:\n{projector.log_tail()}")
            assert local_get(port, "/healthz") == (200, '{"status":"ok"}')
            with relay_running(store, settings.postgres_dsn, settings.kafka_bootstrap, namespace):
                Workload(store, seed=71).run(120)
                head = store.head_position()
                wait_for(lambda: _reflected(client, base) >= head, 60, f"projection:\n{projector.log_tail()}")
            assert_redis_matches(store, client, base)
            _, metrics = local_get(port, "/metrics")
            assert 'eventledger_projection_events_applied_total{projection="redis"}' in metrics
            projector.stop()
            assert projector.process is not None
            assert projector.process.returncode == 0, projector.log_tail()
        finally:
            projector.kill()
            delete_base(client, base)
            client.close()
            store.close()
            delete_topics(settings.kafka_bootstrap, namespace)
