"""For the runner's unit tests: a ledger that emits recorded events as Kafka messages into an in-memory broker, and
an in-memory projection (a real implementation of the port: balances per account, offsets kept with the rows)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from eventledger_events import (
    AccountCredited,
    AccountOpened,
    DomainEvent,
    EventEnvelope,
    EventMetadata,
    RegisteredSchemaIds,
    account_stream_id,
    to_kafka_record,
)
from eventledger_projections.runtime.memory import InMemoryBroker
from eventledger_projections.runtime.port import (
    Applicable,
    LogMessage,
    ParkedMessage,
    PassedEvent,
    Projection,
    TopicPartition,
    decoded,
)
from tests.support.ledger import recorded

METADATA = EventMetadata(actor="tester", correlation_id=uuid.UUID(int=7))
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Ledger:
    """Appends events (positions 1, 2, ...) and publishes each to the broker as the relay would."""

    broker: InMemoryBroker
    position: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    envelopes: list[EventEnvelope] = field(default_factory=list)
    schema_ids: RegisteredSchemaIds | None = None
    """Given, values are in the Confluent wire format under these ids (the relay's v2 encoding)."""

    def append(self, stream_id: str, payload: DomainEvent) -> LogMessage:
        self.position += 1
        version = self.versions.get(stream_id, 0) + 1
        self.versions[stream_id] = version
        envelope = recorded(payload, stream_id, version, self.position, at=EPOCH + timedelta(seconds=self.position))
        self.envelopes.append(envelope)
        record = to_kafka_record(envelope, schema_ids=self.schema_ids)
        return self.broker.produce(record.topic, record.key, record.value, record.headers)

    def open(self, account_id: uuid.UUID | None = None) -> uuid.UUID:
        account_id = account_id or uuid.uuid4()
        self.append(
            account_stream_id(account_id),
            AccountOpened(account_id=account_id, holder_name="Grace Hopper", currency="EUR"),
        )
        return account_id

    def credit(self, account_id: uuid.UUID, amount: int, balance_after: int) -> LogMessage:
        return self.append(
            account_stream_id(account_id),
            AccountCredited(
                account_id=account_id,
                transfer_id=uuid.uuid4(),
                amount=amount,
                currency="EUR",
                balance_after=balance_after,
                counterparty_account_id=uuid.UUID(int=0),
            ),
        )


@dataclass
class PartitionState:
    next_offset: int = 0
    last_position: int = 0
    caught_up: int = 0
    dead_letters: int = 0


class InMemoryBalances(Projection):
    """Balances per account and how many times each event took effect; progress stored atomically with them.

    ``poison`` event ids fail to apply (a fault of the event); ``unavailable_for`` failing calls raise
    ``ConnectionError`` (the store is down).
    """

    name: ClassVar[str] = "balances"

    def __init__(self, *, keeps_offsets: bool = True) -> None:
        self.keeps_offsets = keeps_offsets
        self.balances: dict[str, int] = {}
        self.versions: dict[str, int] = {}
        self.effects: dict[uuid.UUID, int] = {}
        self.partitions: dict[TopicPartition, PartitionState] = {}
        self.poison: set[uuid.UUID] = set()
        self.unavailable_for = 0
        self.apply_calls = 0
        self.passed = 0

    def apply(self, batch: Sequence[Applicable]) -> None:
        self.apply_calls += 1
        if self.unavailable_for > 0:
            self.unavailable_for -= 1
            raise ConnectionError("store unavailable (simulated)")
        envelopes = decoded(batch)
        for envelope in envelopes:
            if envelope.event_id in self.poison:
                raise ValueError(f"cannot apply {envelope.event_id}")
        self.passed += sum(isinstance(event, PassedEvent) for event in batch)
        for envelope in envelopes:  # all checks passed: commit the whole batch "atomically"
            if envelope.stream_version <= self.versions.get(envelope.stream_id, 0):
                continue
            self.versions[envelope.stream_id] = envelope.stream_version
            self.effects[envelope.event_id] = self.effects.get(envelope.event_id, 0) + 1
            if isinstance(envelope.payload, AccountCredited):
                self.balances[envelope.stream_id] = envelope.payload.balance_after
            else:
                self.balances.setdefault(envelope.stream_id, 0)
        for event in batch:
            state = self.partitions.setdefault(event.topic_partition, PartitionState())
            state.next_offset = max(state.next_offset, event.offset + 1)
            state.last_position = max(state.last_position, event.position)

    def skip(self, parked: Sequence[ParkedMessage]) -> None:
        for message in parked:
            state = self.partitions.setdefault(message.topic_partition, PartitionState())
            if message.offset + 1 > state.next_offset:
                state.dead_letters += 1
            state.next_offset = max(state.next_offset, message.offset + 1)
            state.last_position = max(state.last_position, message.position or 0)

    def load_offsets(self) -> Mapping[TopicPartition, int] | None:
        if not self.keeps_offsets:
            return None
        return {tp: state.next_offset for tp, state in self.partitions.items()}

    def mark_caught_up(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> None:
        for tp, high in high_watermarks.items():
            state = self.partitions.setdefault(tp, PartitionState())
            if state.next_offset >= high:
                state.caught_up = max(state.caught_up, relay_position)

    def reflected_position(self) -> int:
        states = self.partitions.values()
        return min((max(s.last_position, s.caught_up) for s in states), default=0)

    def double_effects(self) -> dict[uuid.UUID, int]:
        return {event_id: count for event_id, count in self.effects.items() if count > 1}


class InMemoryCredits(InMemoryBalances):
    """Balances from credits alone: names the one event type it uses, so the runner decodes nothing else."""

    name: ClassVar[str] = "credits"
    event_types: ClassVar[frozenset[str] | None] = frozenset({AccountCredited.EVENT_TYPE})
