"""The projector as an operator runs it: ``python -m eventledger_projections postgres`` serves /healthz, /readyz and
/metrics, pauses on SIGUSR1 and resumes on SIGUSR2, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.http_service import local_get
from tests.support.processes import free_port, scratch_database, wait_for
from tests.support.projection_rig import (
    ProjectorProcess,
    Workload,
    assert_read_model_matches,
    create_topics,
    delete_topics,
    new_namespace,
    projector_env,
    reflected,
    relay_running,
    settings_for,
)
from tests.support.servers import Endpoints

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_infra.settings import Settings


def _metric(port: int, name: str) -> float:
    _, body = local_get(port, "/metrics")
    for line in body.splitlines():
        if line.startswith(name + "{") and 'projection="postgres"' in line:
            return float(line.rsplit(" ", 1)[1])
    return float("nan")


def test_the_projector_process_serves_ops_pauses_resumes_and_stops_on_sigterm(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    with scratch_database(Settings.from_env()) as database:
        settings = settings_for(database)
        namespace = new_namespace("proc")
        create_topics(settings.kafka_bootstrap, namespace)
        store = PostgresEventStore(settings.postgres_dsn, pool_size=2)
        port = free_port()
        projector = ProjectorProcess("postgres", projector_env(database, namespace, port), tmp_path)
        try:
            projector.start()
            wait_for(lambda: local_get(port, "/readyz")[0] == 200, 30, f"readiness:\n{projector.log_tail()}")
            assert local_get(port, "/healthz") == (200, '{"status":"ok"}')
            workload = Workload(store, seed=21)
            with relay_running(store, settings.postgres_dsn, settings.kafka_bootstrap, namespace):
                workload.run(80)
                head = store.head_position()
                wait_for(lambda: reflected(settings.postgres_dsn) >= head, 60, f"catch-up:\n{projector.log_tail()}")
                assert _metric(port, "eventledger_projection_events_applied_total") >= head * 0.9
                assert _metric(port, "eventledger_projection_reflected_position") == head
                assert _metric(port, "eventledger_projection_lag_seconds") == 0

                projector.signal(signal.SIGUSR1)
                wait_for(lambda: _metric(port, "eventledger_projection_paused") == 1, 10, "the pause")
                workload.run(20)
                projector.signal(signal.SIGUSR2)
                wait_for(lambda: _metric(port, "eventledger_projection_paused") == 0, 10, "the resume")
                head = store.head_position()
                wait_for(lambda: reflected(settings.postgres_dsn) >= head, 60, "catch-up after the resume")
            assert_read_model_matches(store, settings.postgres_dsn)

            projector.signal(signal.SIGTERM)
            assert projector.process is not None
            assert projector.process.wait(20) == 0, projector.log_tail()
        finally:
            projector.kill()
            store.close()
            delete_topics(settings.kafka_bootstrap, namespace)
