"""Round-trip real data through each provisioned server: proof that the foundation works, not that a port is open."""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import redis
from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch
from tests.support.kafka_groups import reader
from tests.support.servers import Endpoints


def test_postgres_writes_and_reads_back_in_a_new_connection(endpoints: Endpoints) -> None:
    table = f"smoke_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, body jsonb NOT NULL)")
        conn.execute(f"INSERT INTO {table} VALUES (1, %s)", [json.dumps({"amount": 1250})])
    try:
        with psycopg.connect(endpoints.postgres_dsn) as conn:
            row = conn.execute(f"SELECT body->>'amount', current_setting('server_version_num')::int FROM {table}")
            amount, version = row.fetchone() or (None, 0)
        assert amount == "1250"
        assert version >= 150000
    finally:
        with psycopg.connect(endpoints.postgres_dsn) as conn:
            conn.execute(f"DROP TABLE {table}")


def test_redis_writes_and_reads_back(endpoints: Endpoints) -> None:
    client = redis.Redis.from_url(endpoints.redis_url)
    key = f"smoke:{uuid.uuid4()}"
    try:
        client.hset(key, mapping={"balance": 1250, "currency": "EUR"})
        assert client.hgetall(key) == {b"balance": b"1250", b"currency": b"EUR"}
        assert int(str(client.info("server")["redis_version"]).split(".")[0]) >= 7
    finally:
        client.delete(key)
        client.close()


def test_kafka_produces_and_consumes_in_a_consumer_group(endpoints: Endpoints) -> None:
    topic = f"smoke.{uuid.uuid4().hex[:12]}"
    group = f"smoke-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)
    try:
        producer = Producer(
            {
                "bootstrap.servers": endpoints.kafka_bootstrap,
                "acks": "all",
                "enable.idempotence": True,
            }
        )
        sent = {f"account-{i}": f"event-{i}".encode() for i in range(10)}
        for key, value in sent.items():
            producer.produce(topic, key=key.encode(), value=value)
        assert producer.flush(30) == 0

        consumer = reader(endpoints.kafka_bootstrap, [topic], group)
        received: dict[str, bytes] = {}
        deadline = time.monotonic() + 60
        while len(received) < len(sent) and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            received[bytes(message.key() or b"").decode()] = bytes(message.value() or b"")
            consumer.commit(message=message, asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
        consumer.close()
        assert received == sent
        assert sum(max(tp.offset, 0) for tp in committed) == len(sent)
    finally:
        admin.delete_topics([topic])[topic].result(timeout=30)


def test_elasticsearch_indexes_refreshes_and_searches(endpoints: Endpoints) -> None:
    es = Elasticsearch(endpoints.elasticsearch_url)
    index = f"smoke-{uuid.uuid4().hex[:12]}"
    try:
        es.index(index=index, id="t-1", document={"description": "rent for march", "amount": 1250})
        es.index(index=index, id="t-2", document={"description": "coffee", "amount": 350})
        es.indices.refresh(index=index)
        hits = es.search(index=index, query={"match": {"description": "march"}})["hits"]
        assert [hit["_id"] for hit in hits["hits"]] == ["t-1"]
        nodes = es.nodes.info(node_id="_local", metric="_none")["nodes"]
        assert int(next(iter(nodes.values()))["version"].split(".")[0]) >= 8
    finally:
        es.indices.delete(index=index, ignore_unavailable=True)
        es.close()
