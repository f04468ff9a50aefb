"""A long-lived Kafka client across a broker restart (issue 17): the projectors' high-watermark reads must work
again once the broker is back, without a new client. Private broker: restarting it disturbs no one."""

from __future__ import annotations

import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from tests.support.processes import wait_for
from tests.support.servers import restart

from eventledger_infra.services.kafka import KafkaServer
from eventledger_projections.runtime.kafka import KafkaWatermarks

TOPIC = "watermarks-across-restarts"
PARTITIONS = [(TOPIC, p) for p in range(3)]


def _produce(bootstrap: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for n in range(count):
        producer.produce(TOPIC, key=f"k{n}".encode(), value=b"v")
    assert producer.flush(30) == 0


def test_high_watermarks_are_read_again_after_the_broker_restarts(private_kafka: KafkaServer) -> None:
    bootstrap = private_kafka.address()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 3, 1)])[TOPIC].result(timeout=30)
    _produce(bootstrap, 30)
    watermarks = KafkaWatermarks(bootstrap, request_timeout=5)
    assert sum(watermarks.high(PARTITIONS).values()) == 30
    expected = 30
    for kill in (True, False, True):
        restart(private_kafka, kill=kill)
        time.sleep(3)  # leaders elected: what the client now holds is a stale leader epoch, not a missing leader
        _produce(bootstrap, 5)
        expected += 5
        seen: list[object] = []

        def read_again(expected: int = expected, seen: list[object] = seen) -> bool:
            try:
                high = watermarks.high(PARTITIONS)
            except Exception as error:  # the broker may still be settling: judged by the deadline
                seen[:] = [error]
                return False
            seen[:] = [high]
            return sum(high.values()) == expected

        try:
            wait_for(read_again, 20, f"the watermarks to read {expected} messages again after a restart")
        except AssertionError as failure:
            raise AssertionError(f"{failure}; last answer: {seen}") from None
