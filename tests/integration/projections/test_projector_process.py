"""The projector as an operator runs it: ``python -m eventledger_projections postgres`` serves /healthz, /readyz and
/metrics, pauses on SIGUSR1 and resumes on SIGUSR2, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.http_service import local_get
from tests.support.processes import wait_for
from tests.support.projection_rig import Workload, assert_read_model_matches, reflected, scratch_ledger_with_projector
from tests.support.servers import Endpoints


def _metric(port: int, name: str) -> float:
    _, body = local_get(port, "/metrics")
    for line in body.splitlines():
        if line.startswith(name + "{") and 'projection="postgres"' in line:
            return float(line.rsplit(" ", 1)[1])
    return float("nan")


def test_the_projector_process_serves_ops_pauses_resumes_and_stops_on_sigterm(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    with scratch_ledger_with_projector("postgres", tmp_path) as (ledger, projector):
        port = projector.ops_port
        store, dsn = ledger.store, ledger.dsn
        workload = Workload(store, seed=21)
        with ledger.relay():
            workload.run(80)
            head = store.head_position()
            wait_for(lambda: reflected(dsn) >= head, 60, f"catch-up:\n{projector.log_tail()}")
            assert _metric(port, "eventledger_projection_events_applied_total") >= head * 0.9
            assert _metric(port, "eventledger_projection_reflected_position") == head
            assert _metric(port, "eventledger_projection_lag_seconds") == 0

            projector.signal(signal.SIGUSR1)
            wait_for(lambda: _metric(port, "eventledger_projection_paused") == 1, 10, "the pause")
            workload.run(20)
            projector.signal(signal.SIGUSR2)
            wait_for(lambda: _metric(port, "eventledger_projection_paused") == 0, 10, "the resume")
            head = store.head_position()
            wait_for(lambda: reflected(dsn) >= head, 60, "catch-up after the resume")
        assert_read_model_matches(store, dsn)

        projector.signal(signal.SIGTERM)
        assert projector.process is not None
        assert projector.process.wait(20) == 0, projector.log_tail()
