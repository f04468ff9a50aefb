"""Two workers of the stream job in the same faust app (issue 10 item 3), as a supervisor starts them: the same
settings but the ops port, which also names each worker's faust data folder. They share the source partitions
through the app's consumer group; one is SIGKILLed under load and started again. The window figures in Redis and on
the derived topic still equal a count made by hand from the event store: none lost, none counted twice."""

from __future__ import annotations

import random
import time
from pathlib import Path

import redis
from tests.support.background import Repeatedly
from tests.support.processes import free_port
from tests.support.projection_rig import ScratchLedger, Workload, namespace_of
from tests.support.redis_rig import delete_base
from tests.support.servers import Endpoints
from tests.support.stream_rig import (
    DerivedTopicReader,
    StreamWorker,
    delete_namespace_topics,
    difference,
    expected_windows,
    redis_windows,
    wait_until,
    worker_env,
)

from eventledger_projections.redis.connection import connect
from eventledger_projections.streaming.app import worker_data_dir
from eventledger_projections.streaming.publisher import DERIVED_TOPIC
from eventledger_runtime.kafka import ensure_topics

COUNTED = 'eventledger_stream_events_total{outcome="counted"}'


def _counted(worker: StreamWorker) -> float:
    try:
        return worker.metric(COUNTED)
    except OSError:  # not serving yet
        return -1.0


def test_two_workers_share_the_partitions_and_the_figures_stay_exact_when_one_is_killed(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    rng = random.Random(47)
    with ScratchLedger.created("stream2") as ledger:
        namespace = ledger.namespace
        base = namespace_of(namespace).redis_base
        ensure_topics(ledger.bootstrap, [namespace + DERIVED_TOPIC], 3)
        client: redis.Redis = connect(ledger.settings.redis_url)
        state = tmp_path / "state"  # one state folder, as on one host: each worker takes its own folder in it
        workers = []
        for n in (1, 2):
            port = free_port()
            (tmp_path / f"worker-{n}").mkdir()
            workers.append(
                StreamWorker(worker_env(namespace, state, port, ledger.database), tmp_path / f"worker-{n}", port)
            )
        derived = DerivedTopicReader(ledger.bootstrap, namespace + DERIVED_TOPIC)
        workload = Workload(ledger.store, seed=47)
        try:
            for worker in workers:
                worker.start()
            survivor, doomed = workers
            with ledger.relay():
                with Repeatedly(lambda: workload.run(5), pause=0.02, name="workload") as load:
                    wait_until(lambda: min(map(_counted, workers)) > 0, 120, "both workers counting", doomed.log_tail)
                    time.sleep(rng.uniform(0.5, 1.5))
                    doomed.kill()
                    time.sleep(rng.uniform(0.5, 1.5))
                    doomed.start()
                    wait_until(lambda: _counted(doomed) > 0, 120, "the restarted worker counting", doomed.log_tail)
                    time.sleep(1.0)
                assert not load.errors, load.errors
                expected = expected_windows(ledger.store.read_all(limit=10_000_000, wait=0))
                wait_until(
                    lambda: redis_windows(client, base) == expected,
                    120,
                    "the Redis window figures to equal the event store",
                    lambda: difference(expected, redis_windows(client, base)) + "\n" + survivor.log_tail(),
                )

            def published() -> bool:
                derived.poll(1.0)
                return derived.windows() == expected

            wait_until(published, 60, "the derived topic", lambda: difference(expected, derived.windows()))
            assert sum(n for (window, _, _), (n, _) in expected.items() if window == "tumbling-1m") > 50
            assert survivor.starts == 1
            assert survivor.alive(), survivor.log_tail()
            assert doomed.starts == 2
            folders = {worker_data_dir(state, w.ops_port) for w in workers}
            assert len(folders) == 2
            assert all(folder.is_dir() for folder in folders), "each worker has its own faust folder"
        finally:
            for worker in workers:
                worker.stop()
            derived.close()
            delete_base(client, base)
            client.close()
            delete_namespace_topics(ledger.bootstrap, namespace)
