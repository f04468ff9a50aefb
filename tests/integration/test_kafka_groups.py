"""The helper that tests and benchmarks use to delete the consumer groups they create (issue 17)."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from tests.support.kafka_groups import delete_groups_with_prefix, group_ids
from tests.support.processes import wait_for
from tests.support.servers import Endpoints


def test_the_groups_of_a_namespace_are_deleted_and_no_other(endpoints: Endpoints) -> None:
    namespace = f"groups-{uuid.uuid4().hex[:8]}."
    topic = namespace + "t"
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap})
    producer.produce(topic, b"x")
    producer.flush(30)
    groups = [namespace + "mine", f"other-{uuid.uuid4().hex[:8]}"]
    for group in groups:
        consumer = Consumer(
            {"bootstrap.servers": endpoints.kafka_bootstrap, "group.id": group, "auto.offset.reset": "earliest"}
        )
        consumer.subscribe([topic])
        message = consumer.poll(1)
        while message is None or message.error() is not None:
            message = consumer.poll(1)
        consumer.commit(message=message, asynchronous=False)
        consumer.close()
    wait_for(lambda: set(groups) <= group_ids(endpoints.kafka_bootstrap), 30, "the groups to be listed")
    delete_groups_with_prefix(endpoints.kafka_bootstrap, namespace)
    left = group_ids(endpoints.kafka_bootstrap)
    assert groups[0] not in left
    assert groups[1] in left
    delete_groups_with_prefix(endpoints.kafka_bootstrap, groups[1])
    assert groups[1] not in group_ids(endpoints.kafka_bootstrap)
    admin.delete_topics([topic])[topic].result(timeout=30)
