"""The one ledger builder of the tests and benchmarks: events with real contracts, stream versions and global
positions, as the write side appends them and the store records them.

- :func:`envelope` and :func:`recorded` build one event (appended, or recorded at a position);
- :class:`LedgerScript` plays commands (open, deposit, withdraw, transfer, hold, post, void, expire) into the
  events the write side appends for them, legs and balances included; :func:`ada_and_alan` starts one with two
  accounts open, :func:`random_script` plays a reproducible mix;
- :func:`open_account`, :func:`credit` and :func:`append_in_chunks` turn events into the store's writes;
- :class:`Partitioner` gives events the Kafka placement (topic, partition, offset) the runner hands them over with.

Pure but for :func:`append_in_chunks`, which appends to the store it is given.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import eventledger_events as ev
from eventledger_command.eventstore.envelopes import to_new_event
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest, StreamWrite
from eventledger_projections.runtime.port import ConsumedEvent, LogMessage, ParkedMessage

CORRELATION_ID = UUID(int=7)
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def envelope(
    payload: ev.DomainEvent, stream_id: str, version: int, *, at: datetime | None = None, actor: str = "tester"
) -> ev.EventEnvelope:
    """One event as the write side appends it (a fresh event id; ``at`` defaults to now)."""
    return ev.EventEnvelope.new(
        payload,
        event_id=uuid.uuid4(),
        stream_id=stream_id,
        stream_version=version,
        occurred_at=at or datetime.now(UTC),
        metadata=ev.EventMetadata(actor=actor, correlation_id=CORRELATION_ID),
    )


def recorded(
    payload: ev.DomainEvent,
    stream_id: str,
    version: int,
    position: int,
    *,
    at: datetime | None = None,
    actor: str = "tester",
) -> ev.EventEnvelope:
    """One event as the store records it: at global ``position``, recorded when it occurred."""
    event = envelope(payload, stream_id, version, at=at, actor=actor)
    return event.recorded(position=position, recorded_at=event.occurred_at)


# ---------------------------------------------------------------------- into the store
def open_account(account_id: UUID) -> StreamWrite:
    """The write that opens ``account_id`` (a new stream)."""
    payload = ev.AccountOpened(account_id=account_id, holder_name="Ada Lovelace", currency="EUR", overdraft_limit=0)
    return StreamWrite(
        ev.account_stream_id(account_id), 0, (to_new_event(envelope(payload, ev.account_stream_id(account_id), 1)),)
    )


def credit(account_id: UUID, version: int, amount: int = 100, balance_after: int = 100) -> StreamWrite:
    """A credit appended at stream version ``version + 1`` (expected version ``version``)."""
    payload = ev.AccountCredited(
        account_id=account_id,
        transfer_id=uuid.uuid4(),
        amount=amount,
        currency="EUR",
        balance_after=balance_after,
        counterparty_account_id=UUID(int=0),
        description=f"credit {version}",
    )
    event = envelope(payload, ev.account_stream_id(account_id), version + 1)
    return StreamWrite(ev.account_stream_id(account_id), version, (to_new_event(event),))


def credit_to_a_stranger(position: int, actor: str = "t") -> ev.EventEnvelope:
    """A well-formed credit, recorded at ``position``, to an account no read model saw opened."""
    stranger = uuid.uuid4()
    payload = ev.AccountCredited(
        account_id=stranger,
        transfer_id=uuid.uuid4(),
        amount=5,
        currency="EUR",
        balance_after=5,
        counterparty_account_id=uuid.uuid4(),
    )
    return recorded(payload, ev.account_stream_id(stranger), 2, position, actor=actor)


def append_in_chunks(store: PostgresEventStore, envelopes: Sequence[ev.EventEnvelope], chunk: int = 500) -> None:
    """Append scripted events ``chunk`` at a time, one atomic append per chunk (the store gives them its own
    positions). Each stream's events keep their versions; streams go in order of first appearance, so an account's
    opening stays ahead of its transfers. ``chunk=1`` appends them one by one."""
    for start in range(0, len(envelopes), chunk):
        by_stream: dict[str, list[ev.EventEnvelope]] = {}
        for event in envelopes[start : start + chunk]:
            by_stream.setdefault(event.stream_id, []).append(event)
        writes = [
            StreamWrite(stream_id, events[0].stream_version - 1, tuple(to_new_event(e) for e in events))
            for stream_id, events in by_stream.items()
        ]
        store.append(AppendRequest(tuple(writes)))


@dataclass(frozen=True)
class TransferFacts:
    """The payloads of one transfer, for tests that write events out: each method answers one event of the transfer
    or of its legs, with the transfer's id, accounts, amount, currency and description filled in."""

    transfer_id: UUID
    source: UUID
    destination: UUID
    amount: int = 100
    currency: str = "EUR"
    description: str = ""

    def posted(self, kind: ev.TransferKind = ev.TransferKind.TRANSFER) -> ev.TransferPosted:
        return ev.TransferPosted(kind=kind, **self._transfer(), description=self.description)

    def pending(
        self, expires_at: datetime, kind: ev.TransferKind = ev.TransferKind.TRANSFER
    ) -> ev.TransferPendingCreated:
        return ev.TransferPendingCreated(
            kind=kind, **self._transfer(), description=self.description, expires_at=expires_at
        )

    def pending_posted(self) -> ev.TransferPendingPosted:
        return ev.TransferPendingPosted(**self._transfer())

    def voided(self) -> ev.TransferVoided:
        return ev.TransferVoided(transfer_id=self.transfer_id)

    def expired(self) -> ev.TransferExpired:
        return ev.TransferExpired(transfer_id=self.transfer_id)

    def debited(self, balance_after: int) -> ev.AccountDebited:
        """The source's leg."""
        return ev.AccountDebited(**self._leg(self.source, self.destination, balance_after))

    def credited(self, balance_after: int) -> ev.AccountCredited:
        """The destination's leg."""
        return ev.AccountCredited(**self._leg(self.destination, self.source, balance_after))

    def hold_placed(self, expires_at: datetime) -> ev.AccountHoldPlaced:
        """The hold on the source."""
        return ev.AccountHoldPlaced(**self._hold(), expires_at=expires_at)

    def hold_released(self, reason: ev.HoldReleaseReason) -> ev.AccountHoldReleased:
        return ev.AccountHoldReleased(**self._hold(), reason=reason)

    def _money(self) -> dict[str, Any]:
        """What every event of the transfer and of its legs carries: the transfer's id, amount and currency."""
        return {"transfer_id": self.transfer_id, "amount": self.amount, "currency": self.currency}

    def _transfer(self) -> dict[str, Any]:
        return {**self._money(), "from_account_id": self.source, "to_account_id": self.destination}

    def _leg(self, account_id: UUID, counterparty: UUID, balance_after: int) -> dict[str, Any]:
        return {
            **self._money(),
            "account_id": account_id,
            "balance_after": balance_after,
            "counterparty_account_id": counterparty,
            "description": self.description,
        }

    def _hold(self) -> dict[str, Any]:
        return {**self._money(), "account_id": self.source}


@dataclass
class LedgerScript:
    """Appends events as the write side would (legs with their ``balance_after`` included), giving each the next
    global position. It checks no rule (an overdraft is the caller's choice).

    ``clock`` advances one minute per command, so ``created_at`` ranges are easy to reason about.
    """

    envelopes: list[ev.EventEnvelope] = field(default_factory=list)
    position: int = 0
    clock: datetime = START
    _account_versions: dict[UUID, int] = field(default_factory=dict)
    _currencies: dict[UUID, str] = field(default_factory=dict)
    _balances: dict[UUID, int] = field(default_factory=dict)
    _transfers: dict[UUID, TransferFacts] = field(default_factory=dict)
    _transfer_versions: dict[UUID, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ commands
    def open(self, holder_name: str, currency: str = "EUR", *, account_id: UUID | None = None) -> UUID:
        account_id = account_id or uuid.uuid4()
        self._tick()
        self._currencies[account_id] = currency
        self._balances[account_id] = 0
        self._account(account_id, ev.AccountOpened(account_id=account_id, holder_name=holder_name, currency=currency))
        return account_id

    def balance(self, account_id: UUID) -> int:
        return self._balances[account_id]

    def deposit(self, account_id: UUID, amount: int, description: str = "") -> UUID:
        currency = self._currencies[account_id]
        return self._posted(ev.TransferKind.DEPOSIT, ev.external_account_id(currency), account_id, amount, description)

    def withdraw(self, account_id: UUID, amount: int, description: str = "") -> UUID:
        currency = self._currencies[account_id]
        return self._posted(
            ev.TransferKind.WITHDRAWAL, account_id, ev.external_account_id(currency), amount, description
        )

    def transfer(self, source: UUID, target: UUID, amount: int, description: str = "") -> UUID:
        return self._posted(ev.TransferKind.TRANSFER, source, target, amount, description)

    def hold(self, source: UUID, target: UUID, amount: int, description: str = "") -> UUID:
        """A pending transfer (expires an hour after creation)."""
        self._tick()
        facts = TransferFacts(uuid.uuid4(), source, target, amount, self._currencies[source], description)
        expires_at = self.clock + timedelta(hours=1)
        self._transfers[facts.transfer_id] = facts
        self._transfer_versions[facts.transfer_id] = 1
        self._emit(ev.transfer_stream_id(facts.transfer_id), 1, facts.pending(expires_at))
        self._account(source, facts.hold_placed(expires_at))
        return facts.transfer_id

    def post(self, transfer_id: UUID) -> None:
        self._tick()
        facts = self._settle(transfer_id, TransferFacts.pending_posted)
        self._account(facts.source, facts.hold_released(ev.HoldReleaseReason.POSTED))
        self._legs(dataclasses.replace(facts, description=""))

    def void(self, transfer_id: UUID) -> None:
        self._tick()
        facts = self._settle(transfer_id, TransferFacts.voided)
        self._account(facts.source, facts.hold_released(ev.HoldReleaseReason.VOIDED))

    def expire(self, transfer_id: UUID) -> None:
        self._tick()
        facts = self._settle(transfer_id, TransferFacts.expired)
        self._account(facts.source, facts.hold_released(ev.HoldReleaseReason.EXPIRED))

    # ------------------------------------------------------------------ plumbing
    def _posted(self, kind: ev.TransferKind, source: UUID, target: UUID, amount: int, description: str) -> UUID:
        self._tick()
        currency = self._currencies.get(source) or self._currencies[target]
        facts = TransferFacts(uuid.uuid4(), source, target, amount, currency, description)
        self._transfers[facts.transfer_id] = facts
        self._transfer_versions[facts.transfer_id] = 1
        self._emit(ev.transfer_stream_id(facts.transfer_id), 1, facts.posted(kind))
        self._legs(facts)
        return facts.transfer_id

    def _legs(self, facts: TransferFacts) -> None:
        """The legs of the accounts this ledger knows (not the external account), with their balances."""
        if facts.source in self._currencies:
            self._balances[facts.source] -= facts.amount
            self._account(facts.source, facts.debited(self._balances[facts.source]))
        if facts.destination in self._currencies:
            self._balances[facts.destination] += facts.amount
            self._account(facts.destination, facts.credited(self._balances[facts.destination]))

    def _settle(self, transfer_id: UUID, ending: Callable[[TransferFacts], ev.DomainEvent]) -> TransferFacts:
        """Append the transfer's ending (posted, voided or expired) to its stream."""
        facts = self._transfers[transfer_id]
        version = self._transfer_versions[transfer_id] = self._transfer_versions[transfer_id] + 1
        self._emit(ev.transfer_stream_id(transfer_id), version, ending(facts))
        return facts

    def _account(self, account_id: UUID, payload: ev.DomainEvent) -> None:
        version = self._account_versions.get(account_id, 0) + 1
        self._account_versions[account_id] = version
        self._emit(ev.account_stream_id(account_id), version, payload)

    def _emit(self, stream_id: str, version: int, payload: ev.DomainEvent) -> None:
        self.position += 1
        self.envelopes.append(recorded(payload, stream_id, version, self.position, at=self.clock))

    def _tick(self) -> None:
        self.clock += timedelta(minutes=1)


def ada_and_alan() -> tuple[LedgerScript, UUID, UUID]:
    """A script that opened two accounts in euros: Ada Lovelace's, then Alan Turing's."""
    script = LedgerScript()
    return script, script.open("Ada Lovelace"), script.open("Alan Turing")


def random_script(seed: int, commands: int = 120) -> LedgerScript:
    """A reproducible mix of openings, deposits, withdrawals, transfers and holds posted, voided or expired."""
    rng = random.Random(seed)
    script, *accounts = ada_and_alan()
    pending = []
    for _ in range(commands):
        roll = rng.random()
        if roll < 0.1:
            accounts.append(script.open(f"Holder {rng.randrange(1000)}", "EUR"))
        elif roll < 0.3:
            script.deposit(rng.choice(accounts), rng.randint(1, 10_000), f"deposit {rng.randrange(99)}")
        elif roll < 0.4:
            script.withdraw(rng.choice(accounts), rng.randint(1, 100), "cash")
        elif roll < 0.65:
            source, target = rng.sample(accounts, 2)
            script.transfer(source, target, rng.randint(1, 500), "share")
        elif roll < 0.85:
            source, target = rng.sample(accounts, 2)
            pending.append(script.hold(source, target, rng.randint(1, 500), "hold"))
        elif pending:
            settle = rng.choice([script.post, script.void, script.expire])
            settle(pending.pop(rng.randrange(len(pending))))
    return script


@dataclass
class Partitioner:
    """Places events as Kafka would: topic by category, partition by key hash, offsets per partition.

    Keeps its offsets between calls, so delivering the same envelopes again gives them new offsets (as a
    redelivery by the relay does).
    """

    partitions: int = 3
    namespace: str = ""
    _next: dict[tuple[str, int], int] = field(default_factory=dict)

    def place(self, envelopes: Iterable[ev.EventEnvelope]) -> list[ConsumedEvent]:
        placed: list[ConsumedEvent] = []
        for envelope in envelopes:
            topic = self.namespace + ev.topic_for(envelope.stream_id)
            key = envelope.stream_id.encode()
            partition = zlib.crc32(key) % self.partitions
            offset = self._next.get((topic, partition), 0)
            self._next[(topic, partition)] = offset + 1
            placed.append(ConsumedEvent(envelope, LogMessage(topic, partition, offset, key, b"")))
        return placed

    def high_watermarks(self) -> dict[tuple[str, int], int]:
        """Every partition of both topics, with the offset after the last placed message."""
        return {
            (self.namespace + topic, p): self._next.get((self.namespace + topic, p), 0)
            for topic in ev.ALL_TOPICS
            for p in range(self.partitions)
        }


def parked(events: Sequence[ConsumedEvent]) -> list[ParkedMessage]:
    return [ParkedMessage(e.message.topic, e.message.partition, e.message.offset, e.position) for e in events]


def batches(events: Sequence[ConsumedEvent], size: int) -> list[list[ConsumedEvent]]:
    return [list(events[i : i + size]) for i in range(0, len(events), size)]
