"""A projector that dies after its store write and before its Kafka commit (and before its offsets reach the
progress index) leaves no double effect: its successor replays from the stored offsets, and every document it
writes again is refused as a version conflict or equal to what is there."""

from __future__ import annotations

import threading
import uuid

from elasticsearch import Elasticsearch
from tests.support.elasticsearch_rig import (
    KafkaHarness,
    SimulatedCrash,
    Workload,
    assert_matches_event_store,
    indexed_documents,
    wait_until_reflected,
)
from tests.support.eventstore import isolated_schema
from tests.support.http_service import serve
from tests.support.processes import wait_for
from tests.support.servers import Endpoints

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import build
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames
from eventledger_projections.runtime.runner import RunnerConfig
from eventledger_runtime.settings import CommandSettings


def test_a_crash_between_the_store_write_and_the_commit_leaves_no_double_effect(
    es: Elasticsearch, names: IndexNames, endpoints: Endpoints
) -> None:
    kafka = KafkaHarness(endpoints.kafka_bootstrap, f"fault-es-{uuid.uuid4().hex[:8]}.")
    kafka.create()
    crashed = threading.Event()
    # Its offsets stay in memory until the crash: no timed flush, and no position claim after the first one.
    first = ElasticsearchProjection(es, names, offsets_flush_interval=3600)
    written = 0

    def crash_after(_batches: int) -> None:
        """Once some transfer documents are written (batches may hold account events only)."""
        nonlocal written
        written += first.last_report.transfers if first.last_report else 0
        if written >= 20:
            crashed.set()
            raise SimulatedCrash

    try:
        with isolated_schema(endpoints.postgres_dsn, prefix="es") as dsn:
            container = build(CommandSettings(), store=PostgresEventStore(dsn, pool_size=4))
            with serve(create_app(container)) as url, kafka.relay(dsn):
                Workload(url, seed=51).run(200)
                config = RunnerConfig(
                    topic_namespace=kafka.namespace,
                    batch_size=40,
                    progress_interval=3600,
                    # A short batch makes a caught-up runner refresh its claim at once (ADR 0021), which writes the
                    # offsets too: under load one can come before the crash, and then not all is replayed.
                    eager_progress_interval=3600,
                    after_store_write=crash_after,
                )
                with kafka.projector(first, dsn, config):
                    wait_for(crashed.is_set, 60, "the crash after a store write")
                before = indexed_documents(es, names.transfers)
                assert before, "the crashed projector had written documents"
                successor = ElasticsearchProjection(es, names)
                assert successor.load_offsets() == {}, "no offset reached the progress index: all is replayed"
                with kafka.projector(successor, dsn):
                    wait_until_reflected(successor, dsn)
                after = indexed_documents(es, names.transfers)
                # A settled document is never written again for its events (its stream version stays); at most
                # the holder names it lacked are filled in. One that had every name keeps its very version.
                settled = [t for t, doc in before.items() if doc["status"] != "pending"]
                assert settled
                assert [t for t in settled if after[t]["stream_version"] != before[t]["stream_version"]] == []
                assert [t for t in settled if after[t]["_version"] < before[t]["_version"]] == []
                complete = [t for t in settled if not before[t]["pending_holders"]]
                assert [t for t in complete if after[t]["_version"] != before[t]["_version"]] == []
                assert assert_matches_event_store(es, names, dsn) > 30
    finally:
        kafka.delete()
