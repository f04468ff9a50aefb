"""PRODUCT.md §6 item 3: relay rate against a bare Kafka producer loop (acks=all, idempotence on) sending the same
messages, in alternated rounds.

Run with the servers up: ``make up && .venv/bin/python -m bench.bench_relay``.
"""

from __future__ import annotations

import dataclasses
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from tests.support.ledger import credit, open_account

from bench._common import compare, scratch_database, timed_rate
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest
from eventledger_command.relay.publisher import KafkaEventPublisher, producer_config
from eventledger_command.relay.relay import Relay, RelayConfig, kafka_record_of
from eventledger_events import ALL_TOPICS, KafkaRecord
from eventledger_infra.settings import Settings
from eventledger_runtime.eventlog import InMemoryEventLog
from eventledger_runtime.kafka import ensure_topics

EVENTS = 20_000
ROUNDS = 3


def fill(store: PostgresEventStore, events: int) -> None:
    accounts = [uuid.uuid4() for _ in range(200)]
    for account_id in accounts:
        store.append(AppendRequest((open_account(account_id),)))
    version = 1
    while store.head_position() < events:
        store.append(AppendRequest(tuple(credit(a, version) for a in accounts)))
        version += 1


def bare_producer_rate(bootstrap: str, records: list[KafkaRecord]) -> float:
    def run() -> int:
        producer = Producer(producer_config(bootstrap, "bench-bare"))
        for record in records:
            while True:
                try:
                    producer.produce(record.topic, value=record.value, key=record.key, headers=list(record.headers))
                    break
                except BufferError:
                    producer.poll(0.05)
        assert producer.flush(60) == 0
        return len(records)

    return timed_rate(run)


def relay_rate(store: PostgresEventStore, bootstrap: str, namespace: str) -> float:
    def run() -> int:
        publisher = KafkaEventPublisher(bootstrap, client_id="bench-relay")
        relay = Relay(store, publisher, InMemoryEventLog(), RelayConfig(topic_namespace=namespace))
        published = 0
        while count := relay.run_once():
            published += count
        publisher.close()
        return published

    return timed_rate(run)


def main() -> None:
    base = Settings.from_env()
    namespace = f"bench-{uuid.uuid4().hex[:6]}."
    topics = [namespace + t for t in ALL_TOPICS]
    ensure_topics(base.kafka_bootstrap, topics, base.kafka_partitions)
    try:
        with scratch_database(base) as database:
            store = PostgresEventStore(dataclasses.replace(base, pg_database=database).postgres_dsn)
            fill(store, EVENTS)
            events = store.read_all(limit=10 * EVENTS)
            records = [dataclasses.replace(r, topic=namespace + r.topic) for r in (kafka_record_of(e) for e in events)]
            print(f"relay benchmark: {len(records)} events per run, {ROUNDS} alternated rounds")
            compare(
                "relay vs bare producer",
                ROUNDS,
                {
                    "bare producer (acks=all, idempotent)": lambda: bare_producer_rate(base.kafka_bootstrap, records),
                    "relay (read store, encode, publish)": lambda: relay_rate(store, base.kafka_bootstrap, namespace),
                },
                [
                    ("relay (read store, encode, publish)", "bare producer (acks=all, idempotent)", 0.5),
                ],
            )
            store.close()
    finally:
        AdminClient({"bootstrap.servers": base.kafka_bootstrap}).delete_topics(topics)


if __name__ == "__main__":
    main()
