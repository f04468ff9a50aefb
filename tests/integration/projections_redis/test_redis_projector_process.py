"""The Redis projector as an operator runs it: ``python -m eventledger_projections run redis`` is the shared
projector process (ops endpoint, signals) with the Redis read model; it projects, and stops cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import redis
from tests.support.http_service import local_get
from tests.support.processes import wait_for
from tests.support.projection_rig import Workload, namespace_of, scratch_ledger_with_projector
from tests.support.redis_rig import assert_redis_matches, delete_base
from tests.support.servers import Endpoints

from eventledger_projections.redis import RedisReadModel
from eventledger_projections.redis.connection import connect


def _reflected(client: redis.Redis, base: str) -> int:
    return RedisReadModel(client, base=base).reflected_position()


def test_the_redis_projector_process_projects_serves_ops_and_stops_on_sigterm(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    with scratch_ledger_with_projector("redis", tmp_path) as (ledger, projector):
        store = ledger.store
        base = namespace_of(ledger.namespace).redis_base
        client = connect(ledger.settings.redis_url)
        try:
            with ledger.relay():
                Workload(store, seed=71).run(120)
                head = store.head_position()
                wait_for(lambda: _reflected(client, base) >= head, 60, f"projection:\n{projector.log_tail()}")
            assert_redis_matches(store, client, base)
            _, metrics = local_get(projector.ops_port, "/metrics")
            assert 'eventledger_projection_events_applied_total{projection="redis"}' in metrics
            projector.stop()
            assert projector.process is not None
            assert projector.process.returncode == 0, projector.log_tail()
        finally:
            projector.kill()
            delete_base(client, base)
            client.close()
