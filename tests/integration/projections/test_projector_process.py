"""The projector as an operator runs it: ``python -m eventledger_projections postgres`` serves /healthz, /readyz and
/metrics, pauses on SIGUSR1 and resumes on SIGUSR2, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psycopg
from tests.support.http_service import local_get
from tests.support.processes import wait_for
from tests.support.projection_rig import Workload, assert_read_model_matches, reflected, scratch_ledger_with_projector
from tests.support.servers import Endpoints

from eventledger_projections.postgres.schema import ReadModelSchemas


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


def test_sigterm_during_a_batch_lets_the_projector_commit_it_then_exit_0(endpoints: Endpoints, tmp_path: Path) -> None:
    """The batch in hand when SIGTERM comes (its write waits on a lock the test holds) is written and committed,
    then the process exits 0 (ADR 0018): nothing is left for the next start to redo."""
    with scratch_ledger_with_projector("postgres", tmp_path) as (ledger, projector):
        store, dsn = ledger.store, ledger.dsn
        workload = Workload(store, seed=22)
        with ledger.relay():
            workload.run(20)
            first = store.head_position()
            wait_for(lambda: reflected(dsn) >= first, 60, f"catch-up:\n{projector.log_tail()}")
            with psycopg.connect(dsn, autocommit=True) as conn:
                live = ReadModelSchemas().live(conn)
            assert live is not None
            consumed = _offsets(dsn, live.schema)
            holder = psycopg.connect(dsn)
            try:
                holder.execute(f'LOCK TABLE "{live.schema}".accounts IN EXCLUSIVE MODE')
                workload.run(20)
                wait_for(lambda: _waiting_on_a_lock(dsn), 30, "the projector's batch to wait on the lock")
                projector.signal(signal.SIGTERM)
                time.sleep(1.0)
                assert projector.alive(), "the projector exited with its batch in hand"
            finally:
                holder.close()
            assert projector.process is not None
            assert projector.process.wait(20) == 0, projector.log_tail()
        # The batch in hand was committed with its offsets, not abandoned (the reflected position, a minimum over the
        # partitions, need not move: that one batch may not hold every partition's next events).
        assert _offsets(dsn, live.schema) > consumed, projector.log_tail()
        assert "not committed" not in projector.log_tail()


def _offsets(dsn: str, schema: str) -> int:
    """The offsets the read model has committed, summed over its partitions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".projection_partitions').fetchone()
    return int(row[0]) if row else 0


def _waiting_on_a_lock(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks"
            " WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return bool(row and row[0] > 0)
