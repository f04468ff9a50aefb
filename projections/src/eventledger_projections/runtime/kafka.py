"""The log ports on confluent-kafka: a group consumer with explicit offsets, and the dead-letter producer."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_STORED,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from eventledger_projections.runtime import port
from eventledger_projections.runtime.log import (
    AssignCallback,
    DeadLetterSink,
    EventLog,
    RevokeCallback,
    dead_letter_headers,
)
from eventledger_runtime.logs import kafka_client_logging

log = logging.getLogger(__name__)

_IGNORED_CONSUMER_ERRORS = {KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART}

# What a leader answers when the client's view of partition leadership is out of date (a broker restarted, a
# leader moved): the cure is fresh metadata, not a retry of the same request.
STALE_LEADERSHIP_ERRORS = frozenset(
    {
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError._NOENT,
    }
)


def consumer_config(bootstrap: str, group_id: str, *, session_timeout_ms: int = 10000) -> dict[str, Any]:
    """Explicit offsets only: nothing is committed or stored behind the runner's back."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": max(500, session_timeout_ms // 5),
        "fetch.wait.max.ms": 50,
        **kafka_client_logging(),
    }


class KafkaWatermarks:
    """High watermarks asked of the partitions' leaders (never a cache).

    librdkafka's admin ``ListOffsets`` sends the leader epoch it has cached and, when the broker answers that the
    epoch is stale (after a broker restart), does not refresh its metadata: every later call fails the same way,
    for as long as the client lives (ADR 0015). So a leadership error refreshes the metadata of those topics, and
    the request is made once more.
    """

    def __init__(self, bootstrap: str, *, request_timeout: float = 10.0) -> None:
        self._admin = AdminClient({"bootstrap.servers": bootstrap, **kafka_client_logging()})
        self._timeout = request_timeout

    def high(self, partitions: Sequence[port.TopicPartition]) -> dict[port.TopicPartition, int]:
        if not partitions:
            return {}
        try:
            return self._list(partitions)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or error.code() not in STALE_LEADERSHIP_ERRORS:
                raise
            log.info("refreshing Kafka metadata after %s", error.name())
            for topic in sorted({t for t, _ in partitions}):
                self._admin.list_topics(topic, timeout=self._timeout)
            return self._list(partitions)

    def _list(self, partitions: Sequence[port.TopicPartition]) -> dict[port.TopicPartition, int]:
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        request = {TopicPartition(t, p): latest for t, p in partitions}
        futures = self._admin.list_offsets(request, request_timeout=self._timeout)
        return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}


class KafkaEventLog(EventLog):
    def __init__(
        self, bootstrap: str, group_id: str, *, session_timeout_ms: int = 10000, request_timeout: float = 10.0
    ) -> None:
        self._consumer = Consumer(consumer_config(bootstrap, group_id, session_timeout_ms=session_timeout_ms))
        self._watermarks = KafkaWatermarks(bootstrap, request_timeout=request_timeout)
        self._timeout = request_timeout
        self._assignment: list[port.TopicPartition] = []

    def subscribe(self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: RevokeCallback) -> None:
        def assigned(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            pairs = [(p.topic, p.partition) for p in partitions]
            starts = on_assign(pairs)
            for p in partitions:
                start = starts.get((p.topic, p.partition))
                p.offset = start if start is not None else OFFSET_STORED
            consumer.assign(partitions)
            self._assignment = sorted(set(self._assignment) | set(pairs))

        def revoked(consumer: Consumer, partitions: list[TopicPartition]) -> None:
            pairs = [(p.topic, p.partition) for p in partitions]
            on_revoke(pairs)
            consumer.unassign()
            self._assignment = sorted(set(self._assignment) - set(pairs))

        self._consumer.subscribe(list(topics), on_assign=assigned, on_revoke=revoked, on_lost=revoked)

    def consume(self, max_messages: int, timeout: float) -> list[port.LogMessage]:
        first = self._consumer.poll(timeout)
        if first is None:
            return []
        messages: list[Message] = [first]
        if max_messages > 1:
            messages.extend(self._consumer.consume(max_messages - 1, 0))
        out: list[port.LogMessage] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                if error.code() not in _IGNORED_CONSUMER_ERRORS:
                    log.warning("consumer error: %s", error)
                continue
            out.append(
                port.LogMessage(
                    topic=message.topic() or "",
                    partition=message.partition() or 0,
                    offset=message.offset() or 0,
                    key=message.key(),
                    value=message.value(),
                    headers=_headers(message.headers()),
                )
            )
        return out

    def commit(self, offsets: Mapping[port.TopicPartition, int]) -> None:
        """Asynchronous: the store already holds the progress that matters; Kafka's copy serves lag tools and
        stores without offsets of their own, for which a lost commit means a harmless (idempotent) replay."""
        owned = set(self._assignment)
        parts = [TopicPartition(t, p, o) for (t, p), o in offsets.items() if (t, p) in owned]
        if not parts:
            return
        try:
            self._consumer.commit(offsets=parts, asynchronous=True)
        except KafkaException as exc:
            log.warning("offset commit failed (the next one carries the progress): %s", exc)

    def seek(self, offsets: Mapping[port.TopicPartition, int]) -> None:
        try:
            for (topic, partition), offset in offsets.items():
                self._consumer.seek(TopicPartition(topic, partition, offset))
        except KafkaException:
            # A partition whose fetcher has not started yet refuses seek: assign again with explicit offsets.
            current = self._consumer.position([TopicPartition(t, p) for t, p in self._assignment])
            self._consumer.assign(
                [TopicPartition(p.topic, p.partition, offsets.get((p.topic, p.partition), p.offset)) for p in current]
            )

    def pause(self, partitions: Iterable[port.TopicPartition]) -> None:
        self._consumer.pause([TopicPartition(t, p) for t, p in partitions])

    def resume(self, partitions: Iterable[port.TopicPartition]) -> None:
        self._consumer.resume([TopicPartition(t, p) for t, p in partitions])

    def assignment(self) -> list[port.TopicPartition]:
        return list(self._assignment)

    def high_watermarks(self, partitions: Sequence[port.TopicPartition]) -> dict[port.TopicPartition, int]:
        return self._watermarks.high(partitions)

    def partitions(self, topics: Sequence[str]) -> list[port.TopicPartition]:
        found: list[port.TopicPartition] = []
        for topic in topics:
            metadata = self._consumer.list_topics(topic, timeout=self._timeout).topics.get(topic)
            if metadata is None or metadata.error is not None:
                continue
            found.extend((topic, partition) for partition in sorted(metadata.partitions))
        return found

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already closed
            self._consumer.close()


class KafkaDeadLetterSink(DeadLetterSink):
    """Parks messages with an idempotent, acks=all producer; ``park`` waits for the acknowledgement."""

    def __init__(self, bootstrap: str, topic: str, *, client_id: str = "eventledger-projection-dlq") -> None:
        self.topic = topic
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": client_id,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 0,
                "message.timeout.ms": 30000,
                **kafka_client_logging(),
            }
        )
        self._lock = threading.Lock()

    def park(self, message: port.LogMessage, *, projection: str, reason: str) -> None:
        outcome: list[KafkaError | None] = []

        def delivered(error: KafkaError | None, _message: Any) -> None:
            outcome.append(error)

        headers: list[tuple[str, str | bytes | None]] = list(
            dead_letter_headers(message, projection=projection, reason=reason)
        )
        with self._lock:
            self._producer.produce(
                self.topic, key=message.key, value=message.value, headers=headers, on_delivery=delivered
            )
            while not outcome:
                self._producer.poll(0.5)
        if outcome[0] is not None:
            raise KafkaException(outcome[0])

    def close(self) -> None:
        self._producer.flush(10)


def _headers(raw: object) -> port.Headers:
    """Headers as ``(name, bytes | None)`` pairs, whatever shape the client answered with."""
    if isinstance(raw, list):
        return tuple(raw)  # what a consumer answers: values are bytes (or None)
    pairs = raw.items() if isinstance(raw, dict) else (raw or ())
    assert isinstance(pairs, Iterable)
    out: list[tuple[str, bytes | None]] = []
    for name, value in pairs:
        out.append((str(name), value.encode() if isinstance(value, str) else value))
    return tuple(out)
