"""Kafka chores every service shares: creating its topics, and waiting for the broker at start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from eventledger_runtime.logs import kafka_client_logging

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_INTERVAL_SECONDS = 2.0


def ensure_topics(bootstrap: str, topics: Sequence[str], partitions: int, replication_factor: int = 1) -> None:
    """Create the topics that do not exist yet, with ``partitions`` partitions; existing ones are kept as they are
    (the broker creates none by itself)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **kafka_client_logging()})
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor) for topic in topics],
        operation_timeout=30,
    )
    for topic, future in futures.items():
        try:
            future.result(timeout=60)
            log.info("created topic %s with %d partitions", topic, partitions)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def when_kafka_answers(
    action: Callable[[], T],
    *,
    stopping: Callable[[], bool] = lambda: False,
    what: str = "create the topics",
    interval: float = RETRY_INTERVAL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T | None:
    """Run ``action`` until it succeeds: Kafka may be down or still starting when a service starts, and the
    service waits for it rather than exiting. Returns its result, or None when ``stopping()`` turned true first."""
    while not stopping():
        try:
            return action()
        except Exception as exc:
            log.warning("cannot %s yet (%s); retrying", what, exc)
            sleep(interval)
    return None
