"""Elasticsearch stops answering under load and comes back: the projection calls it transient, the runner keeps
retrying (parking nothing, claiming no position meanwhile), and the index converges to a replay of the event store.

The shared server is never stopped: the projection reaches it through a proxy the test closes and opens again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from elasticsearch import Elasticsearch
from prometheus_client import REGISTRY
from tests.support.elasticsearch_rig import (
    KafkaHarness,
    Workload,
    assert_matches_event_store,
    wait_until_reflected,
)
from tests.support.eventstore import isolated_schema
from tests.support.http_service import serve
from tests.support.ledger import LedgerScript, Partitioner
from tests.support.processes import free_port
from tests.support.servers import Endpoints
from tests.support.tcp_proxy import TcpProxy

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import build
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames
from eventledger_projections.runtime.runner import RunnerConfig
from eventledger_runtime.settings import CommandSettings

OUTAGE_SECONDS = 10


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"projection": "elasticsearch", **labels}) or 0.0


@pytest.fixture
def proxy(endpoints: Endpoints) -> Iterator[TcpProxy]:
    address = urlsplit(endpoints.elasticsearch_url)
    tcp = TcpProxy(address.hostname or "127.0.0.1", address.port or 9200)
    tcp.up()
    yield tcp
    tcp.down()


def test_an_unreachable_elasticsearch_is_transient_for_apply_and_for_progress(names: IndexNames) -> None:
    dead = ElasticsearchProjection.from_url(f"http://127.0.0.1:{free_port()}", names)
    script = LedgerScript()
    script.deposit(script.open("Ada Lovelace"), 100, "top-up")
    partitioner = Partitioner()
    for call in (
        lambda: dead.apply(partitioner.place(script.envelopes)),
        dead.load_offsets,
        lambda: dead.mark_caught_up(script.position, partitioner.high_watermarks()),
    ):
        with pytest.raises(Exception) as failure:  # noqa: PT011 - whatever the client raises must be transient
            call()
        assert dead.is_transient(failure.value), repr(failure.value)
    assert not dead.ready()
    dead.close()


def test_the_projection_rides_out_an_outage_under_load_and_converges(
    es: Elasticsearch, names: IndexNames, proxy: TcpProxy, endpoints: Endpoints
) -> None:
    through_proxy = Elasticsearch(proxy.url, request_timeout=3, max_retries=0)
    projection = ElasticsearchProjection(through_proxy, names)
    kafka = KafkaHarness(endpoints.kafka_bootstrap, f"fault-es-{uuid.uuid4().hex[:8]}.")
    kafka.create()
    config = RunnerConfig(topic_namespace=kafka.namespace, batch_size=100, backoff_max=1.0)
    transient_before = _metric("eventledger_projection_errors_total", kind="transient")
    parked_before = _metric("eventledger_projection_dead_letters_total")
    stop = threading.Event()
    try:
        with isolated_schema(endpoints.postgres_dsn, prefix="es") as dsn:
            container = build(CommandSettings(expiry_interval_seconds=0.2), store=PostgresEventStore(dsn, pool_size=4))
            with serve(create_app(container)) as url, kafka.relay(dsn), kafka.projector(projection, dsn, config):
                workload = Workload(url, seed=41)
                workload.run(80)
                wait_until_reflected(projection, dsn)
                writer = threading.Thread(target=workload.run, args=(100_000, stop), name="workload")
                writer.start()
                time.sleep(1)
                proxy.down()
                time.sleep(1)  # a request sent just before may still be completed by the server
                reflected_when_down = projection_position(es, names)
                time.sleep(OUTAGE_SECONDS - 1)
                transient_during = _metric("eventledger_projection_errors_total", kind="transient") - transient_before
                assert transient_during > 0, "the runner met the outage and called it transient"
                assert projection_position(es, names) == reflected_when_down, "no claim while unreachable"
                proxy.up()
                time.sleep(2)
                stop.set()
                writer.join(60)
                wait_until_reflected(projection, dsn, timeout=120)
            assert workload.accepted > 100
            assert _metric("eventledger_projection_dead_letters_total") == parked_before, "nothing parked"
            assert projection.progress.parked_count() == 0
            assert assert_matches_event_store(es, names, dsn) > 30
    finally:
        stop.set()
        through_proxy.close()
        kafka.delete()


def projection_position(es: Elasticsearch, names: IndexNames) -> int:
    """The reflected position as the query side reads it (directly, not through the proxy)."""
    return ElasticsearchProjection(es, names).reflected_position()
