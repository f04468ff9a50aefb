"""The schema registry (Apicurio Registry, ADR 0028) with the real relay and broker: ids that survive a restart, the
v2 topics read by confluent-kafka's AvroDeserializer and by kcat, the CI compatibility check asked of the registry,
and the analysts' example consumer."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from tests.support.avro_reference import as_reference_reads, current_payloads
from tests.support.eventstore import isolated_schema
from tests.support.kafka_checker import Delivered, consume_all
from tests.support.ledger import LedgerScript, append_in_chunks, envelope
from tests.support.schema_registry import registered_schema_ids
from tests.support.servers import Endpoints, restartable_port

import eventledger_events as ev
from eventledger_command.eventstore.envelopes import to_new_event
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest, StreamWrite
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS, COMPATIBILITY_LEVEL, V2_TOPICS, register_schemas, subject_for
from eventledger_infra import kcat
from eventledger_infra.services.registry import SchemaRegistryServer
from eventledger_infra.settings import Settings
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.schema_registry import ConfluentSchemaRegistry, incompatible_schemas

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def namespace(endpoints: Endpoints) -> Iterator[str]:
    prefix = f"sr-{uuid.uuid4().hex[:8]}."
    yield prefix
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    for future in admin.delete_topics([prefix + t for t in ALL_TOPICS]).values():
        future.result(timeout=30)


def _relay_all(endpoints: Endpoints, dsn: str, namespace: str, expected: int) -> list[Delivered]:
    """Run the relay (with the registry's ids, as the process does) until ``expected`` messages are consumed."""
    store = PostgresEventStore(dsn)
    checkpoints = PostgresEventLogReader(dsn)
    publisher = KafkaEventPublisher(endpoints.kafka_bootstrap)
    topics = [namespace + t for t in ALL_TOPICS]
    ensure_topics(endpoints.kafka_bootstrap, topics, partitions=2)
    relay = Relay(
        store,
        publisher,
        checkpoints,
        RelayConfig(topic_namespace=namespace),
        schema_ids=registered_schema_ids(endpoints.registry_url),
    )
    runner = threading.Thread(target=relay.run)
    runner.start()
    try:
        return consume_all(endpoints.kafka_bootstrap, topics, expected=expected)
    finally:
        relay.stop()
        runner.join(30)
        publisher.close()
        checkpoints.close()
        store.close()


def _append_every_current_type(dsn: str) -> list[ev.DomainEvent]:
    payloads = current_payloads()
    store = PostgresEventStore(dsn)
    versions: dict[str, int] = {}
    for payload in payloads:
        stream_id = (
            ev.account_stream_id(payload.account_id)  # type: ignore[attr-defined]
            if payload.EVENT_TYPE.startswith("account.")
            else ev.transfer_stream_id(payload.transfer_id)  # type: ignore[attr-defined]
        )
        version = versions.get(stream_id, 0)
        store.append(
            AppendRequest(
                (StreamWrite(stream_id, version, (to_new_event(envelope(payload, stream_id, version + 1)),)),)
            )
        )
        versions[stream_id] = version + 1
    store.close()
    return payloads


def test_a_restarted_registry_keeps_every_schema_id(endpoints: Endpoints, tmp_path: Path) -> None:
    """Ids live on in Kafka messages: a registry of the test's own (the cached build, its own H2 file and port)
    registers every schema, is stopped and started again, and answers the same ids and the same schemas."""
    settings = dataclasses.replace(Settings.from_env(), state_dir=tmp_path, registry_port=restartable_port())
    server = SchemaRegistryServer(settings)
    server.install()
    server.start()
    try:
        registry = ConfluentSchemaRegistry(settings.registry_url)
        before = register_schemas(registry)
        texts = {schema_id: registry.schema(schema_id) for schema_id in before.ids.values()}
        assert len(set(before.ids.values())) == len(ev.default_avro_catalog().entries()) == len(before.ids)
        server.stop()
        server.start()
        after_restart = ConfluentSchemaRegistry(settings.registry_url)  # a fresh client: nothing cached
        assert {i: after_restart.schema(i) for i in texts} == texts
        assert register_schemas(after_restart).ids == before.ids, "registering again is idempotent"
    finally:
        server.stop()


def test_relayed_v2_messages_decode_with_confluent_kafkas_avro_deserializer(
    endpoints: Endpoints, namespace: str
) -> None:
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        payloads = _append_every_current_type(dsn)
        delivered = _relay_all(endpoints, dsn, namespace, expected=len(payloads))
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": endpoints.registry_url}))
    read = {}
    for message in delivered:
        assert message.topic.endswith(".v2")
        assert message.value[:1] == b"\x00"
        topic = message.topic.removeprefix(namespace)
        record = deserialize(message.value, SerializationContext(topic, MessageField.VALUE))
        read[message.headers["event-type"]] = {k: str(v) if isinstance(v, UUID) else v for k, v in record.items()}
    assert set(read) == {payload.EVENT_TYPE for payload in payloads}
    for payload in payloads:
        assert read[payload.EVENT_TYPE] == as_reference_reads(payload)


def test_the_registry_refuses_an_incompatible_schema_and_accepts_the_published_ones(endpoints: Endpoints) -> None:
    registry = ConfluentSchemaRegistry(endpoints.registry_url)
    register_schemas(registry)
    assert incompatible_schemas(registry) == [], "every published schema passes the registry's own check"
    subject = subject_for(ev.ACCOUNTS_TOPIC, "account.opened")
    schema = json.loads((ROOT / "events" / "schemas" / "account.opened.v2.avsc").read_text())
    schema["fields"].append({"name": "branch", "type": "string"})  # a new field without a default
    assert not registry.compatible(subject, json.dumps(schema))
    with pytest.raises(ValueError, match="refused"):
        registry.register(subject, json.dumps(schema))
    schema["fields"][-1]["default"] = ""
    assert registry.compatible(subject, json.dumps(schema)), "with a default it may be added"
    config = SchemaRegistryClient({"url": endpoints.registry_url}).get_config(subject)
    level = config.compatibility_level or config.compatibility
    assert level is not None
    assert level.value == COMPATIBILITY_LEVEL


@pytest.fixture(scope="module")
def kcat_binary() -> Path:
    """The kcat the provisioning tool builds from third_party/ (libserdes + kcat; once per source tree, ADR 0028)."""
    path = kcat.ensure(Settings.from_env())
    line = kcat.features(path)
    assert {"JSON", "Avro"} <= {item.strip() for item in line.partition("(")[2].split(",")}, line
    return path


AVRO_TYPES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def _as_avro_json(value: object) -> object:
    """A value as libavro writes it in Avro's JSON encoding, once union branches are unwrapped: timestamps
    (timestamp-micros) as their long, uuids as text, enums by their symbol."""
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return value


def _unwrap_unions(record: dict[str, object]) -> dict[str, object]:
    """``{"long": 5}`` (a union's branch in Avro's JSON encoding) as ``5``."""
    return {
        name: next(iter(value.values())) if isinstance(value, dict) and set(value) <= AVRO_TYPES else value
        for name, value in record.items()
    }


def _read_with_kcat(topic: str, endpoints: Endpoints, registry_url: str) -> subprocess.CompletedProcess[str]:
    """examples/read_with_kcat.sh as an analyst runs it: without $KCAT it asks the provisioning tool for its kcat."""
    return subprocess.run(
        [str(EXAMPLES / "read_with_kcat.sh"), topic, endpoints.kafka_bootstrap, registry_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={name: value for name, value in os.environ.items() if name != "KCAT"},
    )


def test_kcat_prints_the_decoded_events_of_the_v2_topics(
    endpoints: Endpoints, namespace: str, kcat_binary: Path
) -> None:
    """The kcat built from third_party/ prints every event the real relay published on both v2 topics, every field
    of its value decoded through the registry; with a registry that does not answer it stops with kcat's message
    and a failing exit status."""
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        payloads = _append_every_current_type(dsn)
        _relay_all(endpoints, dsn, namespace, expected=len(payloads))
    expected = {
        p.EVENT_TYPE: {name: _as_avro_json(value) for name, value in as_reference_reads(p).items()} for p in payloads
    }
    decoded: dict[str, dict[str, object]] = {}
    for topic in (namespace + ev.ACCOUNTS_TOPIC, namespace + ev.TRANSFERS_TOPIC):
        answer = _read_with_kcat(topic, endpoints, endpoints.registry_url)
        assert answer.returncode == 0, answer.stderr
        for line in answer.stdout.splitlines():
            line_topic, partition, offset, key, headers, value = line.split("\t", 5)
            assert line_topic == topic
            assert partition.isdecimal()
            assert offset.isdecimal()
            pairs = dict(pair.split("=", 1) for pair in headers.split(","))
            assert pairs["schema-version"].isdecimal()
            record = _unwrap_unions(json.loads(value))
            if pairs["event-type"].startswith("account."):
                assert key == ev.account_stream_id(UUID(str(record["account_id"])))
            else:
                assert key == ev.transfer_stream_id(UUID(str(record["transfer_id"])))
            decoded[pairs["event-type"]] = record
    assert decoded == expected, "every event type, every field decoded by kcat through the registry"
    unreachable = _read_with_kcat(namespace + ev.ACCOUNTS_TOPIC, endpoints, "http://127.0.0.1:9/apis/ccompat/v7")
    assert unreachable.returncode != 0, "a registry that does not answer stops the reader"
    assert "REST request failed" in unreachable.stderr
    assert "Couldn't connect to server" in unreachable.stderr


RECORDED_ON = datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC)


def test_the_daily_volume_example_sums_the_money_moved_per_day_and_currency(
    endpoints: Endpoints, namespace: str
) -> None:
    script = LedgerScript()
    ada, alan = script.open("Ada Lovelace"), script.open("Alan Turing")
    pounds = script.open("Charles Babbage", "GBP")
    script.deposit(ada, 1_000)
    script.deposit(pounds, 700)
    script.transfer(ada, alan, 250)
    script.post(script.hold(ada, alan, 40))
    script.void(script.hold(ada, alan, 5))  # a voided hold moves nothing
    script.withdraw(pounds, 200)
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        # One recording day whenever the test runs (near midnight too): the store's recording clock (ADR 0034).
        store = PostgresEventStore(dsn, recording_clock=lambda: RECORDED_ON)
        append_in_chunks(store, script.envelopes)
        recorded = store.read_all(limit=1000)
        store.close()
        _relay_all(endpoints, dsn, namespace, expected=len(recorded))
    day = RECORDED_ON.date().isoformat()
    assert {event.recorded_at for event in recorded} == {RECORDED_ON}
    answer = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "daily_volume.py"),
            "--bootstrap",
            endpoints.kafka_bootstrap,
            "--registry",
            endpoints.registry_url,
            "--topic",
            namespace + ev.TRANSFERS_TOPIC,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(answer.stdout) == [
        {"day": day, "currency": "EUR", "amount": 1_000 + 250 + 40},
        {"day": day, "currency": "GBP", "amount": 700 + 200},
    ]


def test_the_daily_volume_example_explains_bad_input() -> None:
    answer = subprocess.run(
        [sys.executable, str(EXAMPLES / "daily_volume.py"), "--timeout", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 2
    assert "--timeout must be a positive number" in answer.stderr
    assert (
        V2_TOPICS[1]
        in subprocess.run(
            [sys.executable, str(EXAMPLES / "daily_volume.py"), "--help"], capture_output=True, text=True, check=True
        ).stdout
    )
