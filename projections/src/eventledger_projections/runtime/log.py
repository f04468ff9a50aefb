"""What the runner needs from Kafka, as two small ports: a consumer (:class:`EventLog`) and the dead-letter
topic (:class:`DeadLetterSink`). :mod:`.kafka` implements them on confluent-kafka, :mod:`.memory` in memory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence

from eventledger_projections.runtime.port import LogMessage, TopicPartition

DEAD_LETTER_TOPIC = "eventledger.deadletter.v1"
"""Where every projection parks the messages it could not apply (with the namespace prepended in tests)."""

AssignCallback = Callable[[Sequence[TopicPartition]], Mapping[TopicPartition, int | None]]
"""Called when partitions are assigned; answers the offset to start each at (``None``: the committed offset)."""

RevokeCallback = Callable[[Sequence[TopicPartition]], None]


class EventLog(ABC):
    """A consumer of a set of topics in one consumer group, with explicit offsets.

    Contract:
    - ``subscribe`` joins the group. Assignment callbacks run inside ``consume`` (never concurrently with the
      caller's own work); ``on_assign`` answers where each newly assigned partition starts.
    - ``consume(max_messages, timeout)`` waits up to ``timeout`` seconds for a first message, then answers every
      message already available up to ``max_messages``; per partition in offset order. It skips paused
      partitions. It answers an empty list while nothing is available.
    - Nothing is committed unless ``commit`` is called (no auto-commit); ``commit`` takes next offsets.
    - ``seek`` moves an assigned partition so that the next ``consume`` starts at the given offset.
    - ``high_watermarks`` asks the broker (never a cache) for the offset after the last acknowledged message of
      each partition; ``partitions`` lists every partition of the topics.
    """

    @abstractmethod
    def subscribe(self, topics: Sequence[str], on_assign: AssignCallback, on_revoke: RevokeCallback) -> None: ...

    @abstractmethod
    def consume(self, max_messages: int, timeout: float) -> list[LogMessage]: ...

    @abstractmethod
    def commit(self, offsets: Mapping[TopicPartition, int]) -> None: ...

    @abstractmethod
    def seek(self, offsets: Mapping[TopicPartition, int]) -> None: ...

    @abstractmethod
    def pause(self, partitions: Iterable[TopicPartition]) -> None: ...

    @abstractmethod
    def resume(self, partitions: Iterable[TopicPartition]) -> None: ...

    @abstractmethod
    def assignment(self) -> list[TopicPartition]: ...

    @abstractmethod
    def high_watermarks(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...

    @abstractmethod
    def partitions(self, topics: Sequence[str]) -> list[TopicPartition]: ...

    @abstractmethod
    def close(self) -> None:
        """Leave the group and release the client."""


class DeadLetterSink(ABC):
    """The dead-letter topic.

    Contract: ``park`` returns only once the broker acknowledged the message; it sends the original key, value and
    headers, plus ``dlq-reason``, ``dlq-projection``, ``dlq-topic``, ``dlq-partition`` and ``dlq-offset``.
    It raises on failure; the runner tries again (a message is never skipped unparked).
    """

    @abstractmethod
    def park(self, message: LogMessage, *, projection: str, reason: str) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional
        """Flush and release the client."""


MAX_REASON_LENGTH = 2000


def dead_letter_headers(message: LogMessage, *, projection: str, reason: str) -> list[tuple[str, bytes | None]]:
    """The original headers followed by the dead-letter ones (text, UTF-8)."""
    extra = {
        "dlq-reason": reason[:MAX_REASON_LENGTH],
        "dlq-projection": projection,
        "dlq-topic": message.topic,
        "dlq-partition": str(message.partition),
        "dlq-offset": str(message.offset),
    }
    return [*message.headers, *((name, text.encode()) for name, text in extra.items())]
