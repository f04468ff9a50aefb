"""The Elasticsearch projector as an operator runs it (``python -m eventledger_projections run elasticsearch``), killed
with SIGKILL right after a store write and before its Kafka commit, then started again: no double effect, and the
index equals a replay of the event store. Then ``python -m eventledger_projections rebuild elasticsearch``."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from elasticsearch import Elasticsearch
from tests.support.elasticsearch_rig import (
    assert_matches_event_store,
    indexed_documents,
)
from tests.support.elasticsearch_rig import namespace_of as namespace_of_names
from tests.support.processes import free_port, wait_for
from tests.support.projection_rig import ScratchLedger, Workload
from tests.support.servers import Endpoints

from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames
from eventledger_projections.elasticsearch.indices import live_version
from eventledger_runtime.settings import Namespace


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError):
        return 0


def test_sigkill_after_the_store_write_then_a_restart_and_a_rebuild_from_the_cli(
    es: Elasticsearch, names: IndexNames, endpoints: Endpoints, tmp_path: Path
) -> None:
    namespace = Namespace(namespace_of_names(names)).topic_prefix
    with ScratchLedger.created(pool_size=2, namespace=namespace) as ledger:
        store, dsn = ledger.store, ledger.dsn
        port = free_port()
        projector = ledger.projector_process("elasticsearch", tmp_path, ops_port=port)
        projection = ElasticsearchProjection(es, names)
        try:
            with ledger.relay():
                Workload(store, seed=61).run(150)
                projector.start(
                    EVENTLEDGER_PROJECTION_TEST_KILL_AFTER_BATCHES="2", EVENTLEDGER_PROJECTION_BATCH_SIZE="60"
                )
                wait_for(lambda: projector.process is not None and projector.process.poll() is not None, 60, "the kill")
                assert projector.process is not None
                assert projector.process.returncode == -9, projector.log_tail()
                before = indexed_documents(es, names.transfers)
                projector.start()
                wait_for(lambda: _status(port, "/readyz") == 200, 30, f"readiness:\n{projector.log_tail()}")
                Workload(store, seed=62).run(50)
                head = store.head_position()
                wait_for(lambda: projection.reflected_position() >= head, 90, f"catch-up:\n{projector.log_tail()}")
            # Nothing went back; no settled document got a new stream version from the replay; complete ones kept
            # their very version. (Which documents the killed projector wrote depends on the partitions it read.)
            after = indexed_documents(es, names.transfers)
            assert [t for t, doc in before.items() if after[t]["_version"] < doc["_version"]] == []
            settled = [t for t, doc in before.items() if doc["status"] != "pending"]
            assert [t for t in settled if after[t]["stream_version"] != before[t]["stream_version"]] == []
            complete = [t for t in settled if not before[t]["pending_holders"]]
            assert [t for t in complete if after[t]["_version"] != before[t]["_version"]] == []
            assert assert_matches_event_store(es, names, dsn) > 20
            projector.stop()
            assert projector.process is not None
            assert projector.process.returncode == 0, projector.log_tail()

            rebuilt = subprocess.run(
                [sys.executable, "-m", "eventledger_projections", "rebuild", "elasticsearch"],
                env={**projector.env},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
            assert "rebuilt elasticsearch" in rebuilt.stdout
            assert "events/s" in rebuilt.stderr
            assert live_version(es, names) == 2
            assert_matches_event_store(es, names, dsn)
        finally:
            projector.kill()
