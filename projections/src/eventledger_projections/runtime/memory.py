"""In-memory implementations of the log ports: a partitioned log with consumer groups, and a dead-letter sink.

They are real implementations (offsets, watermarks, commits, pause, seek, rebalance), chosen by unit tests of the
runner so that its retry, bisection and dead-letter logic is checked without a broker.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence

from eventledger_projections.runtime.log import (
    DEAD_LETTER_TOPIC,
    AssignCallback,
    DeadLetterSink,
    EventLog,
    RevokeCallback,
    dead_letter_headers,
)
from eventledger_projections.runtime.port import Headers, LogMessage, TopicPartition


class InMemoryBroker:
    """Topics of partitioned, append-only logs, and each consumer group's committed offsets."""

    def __init__(self, partitions: int = 3) -> None:
        self.default_partitions = partitions
        self._logs: dict[str, list[list[LogMessage]]] = {}
        self.committed: dict[str, dict[TopicPartition, int]] = {}
        self._lock = threading.Lock()

    def create_topic(self, topic: str, partitions: int | None = None) -> None:
        with self._lock:
            self._logs.setdefault(topic, [[] for _ in range(partitions or self.default_partitions)])

    def produce(self, topic: str, key: bytes | None, value: bytes | None, headers: Headers = ()) -> LogMessage:
        """Append to the key's partition (all keyless messages go to partition 0)."""
        self.create_topic(topic)
        with self._lock:
            logs = self._logs[topic]
            partition = zlib.crc32(key) % len(logs) if key is not None else 0
            message = LogMessage(topic, partition, len(logs[partition]), key, value, tuple(headers))
            logs[partition].append(message)
            return message

    def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        with self._lock:
            return [(topic, p) for topic in topics if topic in self._logs for p in range(len(self._logs[topic]))]

    def high_watermark(self, tp: TopicPartition) -> int:
        with self._lock:
            logs = self._logs.get(tp[0])
            return len(logs[tp[1]]) if logs is not None else 0

    def read(self, tp: TopicPartition, offset: int, limit: int) -> list[LogMessage]:
        with self._lock:
            return list(self._logs[tp[0]][tp[1]][offset : offset + limit])

    def messages(self, topic: str) -> list[LogMessage]:
        """Every message of ``topic``, partition after partition."""
        with self._lock:
            return [message for log in self._logs.get(topic, []) for message in log]


class InMemoryEventLog(EventLog):
    """The only member of its group: it is assigned every partition of its topics at the first ``consume``."""

    def __init__(self, broker: InMemoryBroker, group_id: str) -> None:
        self._broker = broker
        self._group = group_id
        self._topics: list[str] = []
        self._on_assign: AssignCallback | None = None
        self._on_revoke: RevokeCallback | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._assigned = False
        self.closed = False

    def subscribe(self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: RevokeCallback) -> None:
        self._topics = list(topics)
        self._on_assign, self._on_revoke = on_assign, on_revoke

    def rebalance(self) -> None:
        """Revoke every partition now; they are assigned again at the next ``consume`` (as after a rejoin)."""
        if self._assigned and self._on_revoke is not None:
            self._on_revoke(sorted(self._positions))
        self._positions.clear()
        self._paused.clear()
        self._assigned = False

    def _assign(self) -> None:
        assert self._on_assign is not None, "subscribe first"
        partitions = self._broker.partitions(self._topics)
        starts = self._on_assign(partitions)
        committed = self._broker.committed.get(self._group, {})
        for tp in partitions:
            start = starts.get(tp)
            self._positions[tp] = start if start is not None else committed.get(tp, 0)
        self._assigned = True

    def consume(self, max_messages: int, timeout: float) -> list[LogMessage]:
        if not self._assigned:
            self._assign()
        out: list[LogMessage] = []
        for tp in sorted(self._positions):
            if tp in self._paused or len(out) >= max_messages:
                continue
            chunk = self._broker.read(tp, self._positions[tp], max_messages - len(out))
            if chunk:
                self._positions[tp] = chunk[-1].offset + 1
                out.extend(chunk)
        return out

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._broker.committed.setdefault(self._group, {}).update(offsets)

    def seek(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if tp in self._positions:
                self._positions[tp] = offset

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused |= set(partitions) & set(self._positions)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused -= set(partitions)

    def assignment(self) -> list[TopicPartition]:
        return sorted(self._positions)

    def high_watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self._broker.high_watermark(tp) for tp in partitions}

    def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        return self._broker.partitions(topics)

    def close(self) -> None:
        self.rebalance()
        self.closed = True


class InMemoryDeadLetters(DeadLetterSink):
    """Parks into the broker's dead-letter topic; ``unavailable_for`` failing calls simulate a broker outage."""

    def __init__(self, broker: InMemoryBroker, topic: str = DEAD_LETTER_TOPIC) -> None:
        self._broker = broker
        self.topic = topic
        self.unavailable_for = 0

    def park(self, message: LogMessage, *, projection: str, reason: str) -> None:
        if self.unavailable_for > 0:
            self.unavailable_for -= 1
            raise ConnectionError("dead-letter topic unavailable (simulated)")
        headers = dead_letter_headers(message, projection=projection, reason=reason)
        self._broker.produce(self.topic, message.key, message.value, tuple(headers))

    @property
    def parked(self) -> list[LogMessage]:
        return self._broker.messages(self.topic)
