"""The projection driven by the runtime's runner on real Kafka, fed by the relay from a real event store that the
command service fills over HTTP: convergence to a replay of the store, double delivery, and a poison document."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from confluent_kafka import Consumer, Message
from elasticsearch import Elasticsearch
from tests.support.elasticsearch_rig import (
    KafkaHarness,
    Workload,
    assert_matches_event_store,
    differences,
    expected_documents,
    indexed_documents,
    live_version_with_32_bit_amounts,
    read_event_store,
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
from eventledger_projections.elasticsearch.indices import existing_versions, live_version
from eventledger_projections.elasticsearch.rebuild import ElasticsearchRebuild
from eventledger_projections.elasticsearch.wiring import relevant_events_source
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_runtime.settings import CommandSettings


@dataclass
class Ledger:
    url: str
    dsn: str


@pytest.fixture
def ledger(endpoints: Endpoints) -> Iterator[Ledger]:
    """The command service on an event store of its own (expiry worker every 0.2 s)."""
    with isolated_schema(endpoints.postgres_dsn, prefix="es") as dsn:
        settings = CommandSettings(expiry_interval_seconds=0.2)
        container = build(settings, store=PostgresEventStore(dsn, pool_size=4))
        with serve(create_app(container)) as url:
            yield Ledger(url, dsn)


@pytest.fixture
def kafka(endpoints: Endpoints) -> Iterator[KafkaHarness]:
    harness = KafkaHarness(endpoints.kafka_bootstrap, f"it-es-{uuid.uuid4().hex[:8]}.")
    harness.create()
    yield harness
    harness.delete()


def test_after_a_random_workload_the_index_equals_a_replay_of_the_event_store(
    es: Elasticsearch, names: IndexNames, ledger: Ledger, kafka: KafkaHarness
) -> None:
    projection = ElasticsearchProjection(es, names)
    with kafka.relay(ledger.dsn), kafka.projector(projection, ledger.dsn):
        Workload(ledger.url, seed=31).run(250)
        wait_until_reflected(projection, ledger.dsn)
    assert assert_matches_event_store(es, names, ledger.dsn) > 80


def test_every_event_delivered_twice_changes_nothing(
    es: Elasticsearch, names: IndexNames, ledger: Ledger, kafka: KafkaHarness
) -> None:
    Workload(ledger.url, seed=32).run(150)
    events = len(read_event_store(ledger.dsn))
    projection = ElasticsearchProjection(es, names)
    # Two relays with checkpoints of their own: every event reaches Kafka twice.
    second = kafka.relay(ledger.dsn, checkpoint="second-relay")
    with kafka.relay(ledger.dsn), second, kafka.projector(projection, ledger.dsn):
        wait_for(lambda: _consumed(projection) == 2 * events, 90, "both copies of every event consumed")
        wait_until_reflected(projection, ledger.dsn)
    assert sum(_high_watermarks(kafka).values()) == 2 * events
    assert assert_matches_event_store(es, names, ledger.dsn) > 40


def test_a_document_the_mapping_refuses_is_parked_and_everything_else_applied(
    es: Elasticsearch, names: IndexNames, ledger: Ledger, kafka: KafkaHarness
) -> None:
    # The live version was made with 32-bit amounts: one large deposit cannot be indexed.
    live_version_with_32_bit_amounts(es, names)
    workload = Workload(ledger.url, seed=33)
    workload.run(60)
    with httpx.Client(base_url=ledger.url) as client:
        answer = client.post("/v1/deposits", json={"account_id": workload.accounts[0], "amount": 2**40})
    poison = answer.json()["transfer_id"]
    workload.run(60)
    projection = ElasticsearchProjection(es, names)
    with kafka.relay(ledger.dsn), kafka.projector(projection, ledger.dsn):
        wait_until_reflected(projection, ledger.dsn)
    expected = expected_documents(read_event_store(ledger.dsn))
    indexed = indexed_documents(es, names.transfers)
    assert differences(expected, indexed) == [f"missing {poison}"]
    assert projection.progress.parked_count() == 1
    [parked] = _messages(kafka, kafka.namespace + DEAD_LETTER_TOPIC, 1)
    pairs: list[tuple[str, bytes | None]] = list(parked.headers() or [])  # type: ignore[arg-type]
    headers = {name: (value or b"").decode() for name, value in pairs}
    assert headers["dlq-projection"] == "elasticsearch"
    assert "document_parsing_exception" in headers["dlq-reason"]
    assert parked.key() == f"transfer-{poison}".encode()


def test_a_rebuild_while_commands_keep_coming_switches_versions_and_loses_nothing(
    es: Elasticsearch, names: IndexNames, ledger: Ledger, kafka: KafkaHarness
) -> None:
    workload = Workload(ledger.url, seed=34)
    workload.run(100)
    projection = ElasticsearchProjection(es, names)
    stop = threading.Event()
    writer = threading.Thread(target=workload.run, args=(100_000, stop), name="workload")
    source = relevant_events_source(ledger.dsn)
    safe_head = source.log.safe_head
    heads: dict[str, int] = {}
    with kafka.relay(ledger.dsn), kafka.projector(projection, ledger.dsn):
        wait_for(lambda: projection.reflected_position() > 0, 60, "the live projector at work")
        writer.start()
        try:
            heads["start"] = safe_head()
            job = ElasticsearchRebuild(
                es,
                source,
                safe_head,
                names,
                batch_size=100,
                catch_up_threshold=20,
                on_switch=lambda cap: heads.update(cap=cap, reflected=projection.reflected_position()),
            )
            report = job.run()
            wait_for(lambda: safe_head() > report.built_to + 50, 60, "commands after the switch")
        finally:
            stop.set()
            writer.join(60)
        heads["end"] = wait_until_reflected(projection, ledger.dsn)
    source.close()
    assert heads["start"] < heads["cap"] < heads["end"], "commands ran before, during and after the switch"
    assert heads["reflected"] <= heads["cap"]
    assert (report.previous, report.version) == (1, 2)
    assert (live_version(es, names), existing_versions(es, names)) == (2, {2})
    assert assert_matches_event_store(es, names, ledger.dsn) > 50


def _consumed(projection: ElasticsearchProjection) -> int:
    return sum((projection.load_offsets() or {}).values())


def _high_watermarks(kafka: KafkaHarness) -> dict[tuple[str, int], int]:
    from eventledger_projections.runtime.kafka import KafkaEventLog

    log = KafkaEventLog(kafka.bootstrap, f"probe-{uuid.uuid4()}")
    try:
        topics = [t for t in kafka.topics if not t.endswith(DEAD_LETTER_TOPIC)]
        return log.high_watermarks(log.partitions(topics))
    finally:
        log.close()


def _messages(kafka: KafkaHarness, topic: str, expected: int) -> list[Message]:
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": f"probe-{uuid.uuid4()}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    found: list[Message] = []
    try:
        for _ in range(100):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                found.append(message)
            if len(found) >= expected and message is None:
                break
    finally:
        consumer.close()
    return found
