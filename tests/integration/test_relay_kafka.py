"""The relay against real PostgreSQL and Kafka: topics, keys, Avro values, headers, checkpoint."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient
from tests.support.avro_reference import as_reference_reads, current_payloads, decode_with_reference, reference_schemas
from tests.support.eventstore import isolated_schema
from tests.support.kafka_checker import check_at_least_once_in_order, consume_all
from tests.support.ledger import credit, envelope, open_account
from tests.support.schema_registry import registered_schema_ids
from tests.support.servers import Endpoints

import eventledger_events as ev
from eventledger_command.eventstore.envelopes import to_new_event
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest, StreamWrite
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS, decode_avro
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.kafka import ensure_topics


@pytest.fixture
def namespace(endpoints: Endpoints) -> Iterator[str]:
    prefix = f"it-{uuid.uuid4().hex[:8]}."
    yield prefix
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    for future in admin.delete_topics([prefix + t for t in ALL_TOPICS]).values():
        future.result(timeout=30)


def test_the_relay_publishes_every_event_with_key_avro_value_and_headers(endpoints: Endpoints, namespace: str) -> None:
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        store = PostgresEventStore(dsn)
        checkpoints = PostgresEventLogReader(dsn)
        topics = [namespace + t for t in ALL_TOPICS]
        ensure_topics(endpoints.kafka_bootstrap, topics, partitions=4)
        accounts = [uuid.uuid4() for _ in range(10)]
        for account_id in accounts:
            store.append(AppendRequest((open_account(account_id),)))
            for version in range(1, 5):
                store.append(AppendRequest((credit(account_id, version),)))
        publisher = KafkaEventPublisher(endpoints.kafka_bootstrap)
        ids = registered_schema_ids(endpoints.registry_url)
        relay = Relay(
            store, publisher, checkpoints, RelayConfig(batch_size=16, topic_namespace=namespace), schema_ids=ids
        )
        runner = threading.Thread(target=relay.run)
        runner.start()
        try:
            delivered = consume_all(endpoints.kafka_bootstrap, topics, expected=50)
        finally:
            relay.stop()
            runner.join(30)
            publisher.close()
        recorded = store.read_all(limit=1000)
        report = check_at_least_once_in_order(recorded, delivered)
        assert report["messages"] == 50
        assert checkpoints.checkpoint("kafka-relay") == recorded[-1].position

        first = delivered[0]
        assert first.topic == namespace + "eventledger.accounts.v2"
        assert first.value[:1] == b"\x00", "the Confluent wire format (ADR 0028)"
        assert int.from_bytes(first.value[1:5], "big") == ids.id_for(
            "eventledger.accounts.v2", first.headers["event-type"], int(first.headers["schema-version"])
        )
        assert first.key.startswith("account-")
        assert set(first.headers) >= {"event-id", "event-type", "schema-version", "position", "correlation-id"}
        assert first.headers["event-type"] == decode_avro(first.value).EVENT_TYPE
        by_position = {event.position: event for event in recorded}
        for message in delivered:  # each message carries its event's chain hash (ADR 0025)
            stored = by_position[int(message.headers["position"])]
            assert stored.event_hash is not None
            assert message.headers["event-hash"] == stored.event_hash.hex()
        admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
        metadata = admin.list_topics(topic=topics[0], timeout=10)
        assert len(metadata.topics[topics[0]].partitions) == 4
        checkpoints.close()
        store.close()


def test_every_event_type_the_relay_publishes_decodes_with_the_reference_avro_implementation(
    endpoints: Endpoints, namespace: str
) -> None:
    """Issue 15 item 2: one event of every current type through the real relay and broker, each message value read
    by the Apache ``avro`` package alone (schema by the header's fingerprint among the published .avsc files). The
    relay runs without registry ids here: the single-object encoding of the ``v1`` topics, kept readable."""
    payloads = current_payloads()
    with isolated_schema(endpoints.postgres_dsn) as dsn:
        store = PostgresEventStore(dsn)
        checkpoints = PostgresEventLogReader(dsn)
        topics = [namespace + t for t in ALL_TOPICS]
        ensure_topics(endpoints.kafka_bootstrap, topics, partitions=2)
        versions: dict[str, int] = {}
        for payload in payloads:
            stream_id = (
                ev.account_stream_id(payload.account_id)  # type: ignore[attr-defined]
                if payload.EVENT_TYPE.startswith("account.")
                else ev.transfer_stream_id(payload.transfer_id)  # type: ignore[attr-defined]
            )
            version = versions.get(stream_id, 0)
            event = to_new_event(envelope(payload, stream_id, version + 1))
            store.append(AppendRequest((StreamWrite(stream_id, version, (event,)),)))
            versions[stream_id] = version + 1
        publisher = KafkaEventPublisher(endpoints.kafka_bootstrap)
        relay = Relay(store, publisher, checkpoints, RelayConfig(topic_namespace=namespace))
        runner = threading.Thread(target=relay.run)
        runner.start()
        try:
            delivered = consume_all(endpoints.kafka_bootstrap, topics, expected=len(payloads))
        finally:
            relay.stop()
            runner.join(30)
            publisher.close()
            checkpoints.close()
            store.close()
    schemas = reference_schemas()
    read = {message.headers["event-type"]: decode_with_reference(message.value, schemas) for message in delivered}
    assert set(read) == {payload.EVENT_TYPE for payload in payloads}
    for message in delivered:
        assert read[message.headers["event-type"]] == as_reference_reads(decode_avro(message.value))
