"""The port a read model implements to be driven by the projection runtime.

A projection is the store-specific half of a projector: it knows how to apply events to its store, where its
progress is kept, and what global position it reflects. The runtime (:mod:`.runner`) is the other half: it reads
Kafka, batches, retries, isolates poison events and parks them in the dead-letter topic, commits Kafka offsets,
and keeps the metrics. A new read model (Redis, Elasticsearch, ...) implements :class:`Projection` and nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from eventledger_events import ALL_TOPICS, EventContractError, EventEnvelope, EventRecord, identify_from_kafka
from eventledger_events.kafka_message import header_values
from eventledger_events.topics import HEADER_EVENT_TYPE, HEADER_RECORDED_AT

TopicPartition = tuple[str, int]
"""``(topic, partition)``, the topic as consumed (with the test namespace when there is one)."""

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One message as read from the log, before decoding: what the dead-letter topic receives verbatim."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()

    @property
    def topic_partition(self) -> TopicPartition:
        return (self.topic, self.partition)


class _ReadFromLog:
    """Where an event given to ``apply`` was read (its ``message``)."""

    __slots__ = ()
    message: LogMessage

    @property
    def topic_partition(self) -> TopicPartition:
        return self.message.topic_partition

    @property
    def offset(self) -> int:
        return self.message.offset


@dataclass(frozen=True, slots=True)
class ConsumedEvent(_ReadFromLog):
    """A decoded event and where it was read: the unit a projection applies."""

    envelope: EventEnvelope
    message: LogMessage

    @property
    def position(self) -> int:
        """The event's global position (always set on consumed events: the relay publishes appended events only)."""
        assert self.envelope.position is not None
        return self.envelope.position

    @property
    def recorded_at(self) -> datetime | None:
        return self.envelope.recorded_at

    @property
    def kind(self) -> str:
        """What the event is, for logs."""
        return self.envelope.full_event_type


@dataclass(frozen=True, slots=True)
class RecordEvent(_ReadFromLog):
    """An event of the current schema version of its type, read only as far as its Avro record (ADR 0037): what a
    projection that sets :attr:`Projection.reads_records` receives instead of a :class:`ConsumedEvent`, so that it
    maps the record straight to its own operations (no payload model, no envelope)."""

    event: EventRecord
    message: LogMessage

    @property
    def position(self) -> int:
        return self.event.position

    @property
    def recorded_at(self) -> datetime | None:
        return datetime.fromisoformat(self.event.recorded_at)  # checked to parse when it was read

    @property
    def kind(self) -> str:
        return self.event.event_type


@dataclass(frozen=True, slots=True)
class PassedEvent(_ReadFromLog):
    """An event of a type the projection does not use (see :attr:`Projection.event_types`), never decoded: it
    only moves the projection's progress past itself (its offset, and its ``position`` from the header)."""

    message: LogMessage
    position: int

    @property
    def recorded_at(self) -> datetime | None:
        # Its headers are text: it was identified (``of``). The date was not checked.
        try:
            return datetime.fromisoformat(header_values(self.message.headers)[HEADER_RECORDED_AT])
        except ValueError:
            return None

    @property
    def kind(self) -> str:
        """What the event is, for logs (its header: it was never decoded)."""
        return header_values(self.message.headers)[HEADER_EVENT_TYPE]

    @staticmethod
    def of(message: LogMessage, used: frozenset[str]) -> PassedEvent | None:
        """``message`` as a passed event when it is an event of a type outside ``used``, checked as far as that is
        possible without building its payload and envelope (:func:`~eventledger_events.identify_from_kafka`: every
        envelope header there and text, the value one Avro record of a schema of the header's type). None when it
        must be decoded: a type in ``used``, or a message those checks refuse (decoding then parks it)."""
        for name, value in message.headers:
            if name == HEADER_EVENT_TYPE and value is not None and value.decode(errors="replace") in used:
                return None
        try:
            identity = identify_from_kafka(message.key, message.value, message.headers)
        except EventContractError:
            return None
        return PassedEvent(message, identity.position)


Applicable = ConsumedEvent | RecordEvent | PassedEvent
"""What ``apply`` receives: decoded events, records (only for a projection that ``reads_records``), and (only for a
projection that names its ``event_types``) passed ones."""


def decoded(batch: Sequence[Applicable]) -> list[EventEnvelope]:
    """The envelopes of ``batch``'s decoded events, in order (its passed events only move the progress)."""
    return [event.envelope for event in batch if isinstance(event, ConsumedEvent)]


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    """A message the runtime parked in the dead-letter topic instead of applying it.

    ``position`` is the event's global position when the message could be decoded, ``None`` when it could not.
    """

    topic: str
    partition: int
    offset: int
    position: int | None

    @property
    def topic_partition(self) -> TopicPartition:
        return (self.topic, self.partition)


class OffsetsMoved(Exception):
    """Raised by a projection when its stored offsets changed under the runner (a rebuild switched versions).

    The runner drops the rest of the batch, commits nothing for it, calls :meth:`Projection.load_offsets` again and
    seeks every assigned partition there.
    """


class Projection(ABC):
    """A read model driven by :class:`~eventledger_projections.runtime.runner.ProjectionRunner`.

    Contract:

    - ``name`` is stable: it names the consumer group (``eventledger-projection-<name>``), the metrics label and
      the CLI argument. ``topics`` are the base topic names consumed (the runner adds its namespace).
    - ``event_types``: the event types (the ``event-type`` header, e.g. ``account.opened``) ``apply`` needs
      decoded; None (the default) for every type. Messages of other types are never decoded: they reach
      ``apply`` as :class:`PassedEvent`, which move the progress exactly like applied events and change nothing else.
    - ``reads_records``: when True, ``apply`` receives each event of the current schema version of its type as a
      :class:`RecordEvent` (its Avro record: no payload model, no envelope; ADR 0037), and only events of older
      versions as :class:`ConsumedEvent` (upcast). False (the default): every used event is a ``ConsumedEvent``.
    - ``apply(batch)`` applies the events in the order given (per partition: offset order). It is **idempotent**:
      applying an event again, or an older event of a stream after a newer one, changes nothing (guard by the
      stream version, or by the event id or position). Where the store allows, it records its progress
      (``next offset = offset + 1`` and the highest position, per partition) **in the same transaction** as the
      rows, so that the effect is exactly once even if the process dies before Kafka offsets are committed. It
      either applies the whole batch or raises and applies none of it.
    - It raises :class:`OffsetsMoved` when the store's offsets moved under the runner (a version switch); any
      other exception is a failure. :meth:`is_transient` tells the runner whether a failure is the store being
      unavailable (retried forever, never parked) or a fault of the events (retried a few times, then the runner
      isolates the poison event and parks it).
    - ``skip(parked)`` records progress past messages parked in the dead-letter topic: the runner calls it only
      after everything before them in their partition has been applied, and only once the dead-letter topic has
      acknowledged them. It must be idempotent.
    - ``load_offsets()`` answers where to resume: ``{(topic, partition): next offset}`` kept with the rows, used
      as authoritative (a partition missing from it is read from its beginning); or ``None`` when the store
      keeps no offsets, in which case the runner resumes from the consumer group's committed offsets.
    - ``mark_caught_up(relay_position, high_watermarks)``: the runner read the relay's checkpoint
      ``relay_position`` (every event at or below it was acknowledged by Kafka) and only **then** the high
      watermarks of every partition consumed. For each partition whose applied-or-parked progress has reached its
      high watermark, every event of it at or below ``relay_position`` is reflected: record that (never lowering a
      mark). Every partition listed must be known to the projection afterwards, even one never read, so that a
      partition that is behind keeps :meth:`reflected_position` down.
    - ``claim(relay_position, high_watermarks)``: ``mark_caught_up``, then answers ``reflected_position()``, as
      the runner does after every position refresh; a store that learns the reflected position while it claims
      answers it from the same call (one round trip fewer on the command → visible path, ADR 0040).
    - ``reflected_position()``: a global position P such that every event at or below P of the consumed topics
      has been applied (or parked). It never claims a position some of whose events are not applied; it is
      0 when nothing is known. See docs/adr/0007-projection-runtime.md.
    """

    name: ClassVar[str]
    topics: ClassVar[tuple[str, ...]] = ALL_TOPICS
    event_types: ClassVar[frozenset[str] | None] = None
    reads_records: ClassVar[bool] = False

    @abstractmethod
    def apply(self, batch: Sequence[Applicable]) -> None: ...

    @abstractmethod
    def skip(self, parked: Sequence[ParkedMessage]) -> None: ...

    @abstractmethod
    def load_offsets(self) -> Mapping[TopicPartition, int] | None: ...

    @abstractmethod
    def mark_caught_up(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> None: ...

    @abstractmethod
    def reflected_position(self) -> int: ...

    def claim(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> int:
        """Record the claim (:meth:`mark_caught_up`) and answer the reflected position afterwards."""
        self.mark_caught_up(relay_position, high_watermarks)
        return self.reflected_position()

    def is_transient(self, error: BaseException) -> bool:
        """True when ``error`` means the store is unavailable rather than that the events are at fault."""
        return isinstance(error, ConnectionError | TimeoutError)

    def describe(self, error: BaseException) -> str:
        """``error`` as the runner writes it into its logs and into dead-letter reasons: never with the values of
        the rows or documents being written, which hold personal data (docs/adr/0035-key-handling-for-personal-data.md).
        Stores whose errors quote values override this."""
        return f"{type(error).__name__}: {error}"

    def ready(self) -> bool:
        """Whether the store answers (for /readyz)."""
        return True

    def close(self) -> None:  # noqa: B027 - stores without resources need not override
        """Release connections."""
