"""Publishing Kafka records: the port and its confluent-kafka implementation."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from eventledger_events import KafkaRecord
from eventledger_runtime.logs import kafka_client_logging

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not acknowledge every record of a batch; the caller must publish the batch again."""


class EventPublisher(ABC):
    """Sends records to their topics.

    Contract: ``publish`` returns only when the broker has acknowledged every record of the batch (with acks=all);
    records of one key are written in the order given; a failure raises :class:`PublishFailed` (some records may
    have been written: the caller re-publishes, so delivery is at least once). ``publish`` waits while the broker
    is unreachable, and gives up with :class:`PublishFailed` when ``should_stop`` turns true.
    """

    @abstractmethod
    def publish(self, records: Sequence[KafkaRecord], should_stop: Callable[[], bool] = lambda: False) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional
        """Flush and release the client."""


class InMemoryPublisher(EventPublisher):
    """Keeps what was published, per topic; for unit tests of the relay loop."""

    def __init__(self) -> None:
        self.sent: list[KafkaRecord] = []
        self.fail_next = 0

    def publish(self, records: Sequence[KafkaRecord], should_stop: Callable[[], bool] = lambda: False) -> None:
        if self.fail_next:
            self.fail_next -= 1
            self.sent.extend(records[: len(records) // 2])  # a partial write, as a broker outage can leave
            raise PublishFailed("simulated broker failure")
        self.sent.extend(records)


def producer_config(bootstrap: str, client_id: str) -> dict[str, Any]:
    """The producer settings the relay's guarantees rest on (and the benchmark's bare producer uses too)."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        # A message never expires while the broker is away: the relay waits rather than leave a hole in a
        # partition that a later retry would fill out of order.
        "message.timeout.ms": 0,
        "enable.gapless.guarantee": True,
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "compression.type": "lz4",
        "queue.buffering.max.messages": 200000,
        **kafka_client_logging(),
    }


class KafkaEventPublisher(EventPublisher):
    def __init__(self, bootstrap: str, *, client_id: str = "eventledger-relay") -> None:
        self._producer = Producer(producer_config(bootstrap, client_id))
        self._lock = threading.Lock()

    def publish(self, records: Sequence[KafkaRecord], should_stop: Callable[[], bool] = lambda: False) -> None:
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Any) -> None:
            if error is not None:
                failures.append(error)

        with self._lock:
            for record in records:
                while True:
                    try:
                        self._producer.produce(
                            record.topic,
                            value=record.value,
                            key=record.key,
                            headers=list(record.headers),
                            on_delivery=delivered,
                        )
                        break
                    except BufferError:
                        self._producer.poll(0.1)  # the local queue is full: let deliveries drain it
                    except KafkaException as exc:
                        raise PublishFailed(str(exc)) from exc
            while self._producer.flush(1.0) > 0:
                if should_stop():
                    raise PublishFailed("stopped before the broker acknowledged the batch")
                log.warning("waiting for the broker to acknowledge %d records", len(self._producer))
        if failures:
            raise PublishFailed(f"{len(failures)} records not acknowledged, first: {failures[0]}")

    def close(self) -> None:
        self._producer.flush(10)
