"""Given/when/then helpers for the domain, and a tiny in-memory ledger that applies decisions.

The domain tests receive them as fixtures (``account_spec``, ``transfer_spec``, ``ledger``, from
tests/unit/domain/conftest.py) and import the types from here for their annotations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid5

from eventledger_command.domain import (
    Account,
    Decision,
    DomainError,
    Transfer,
    account_stream_id,
    external_account_id,
    rebuild_account,
    rebuild_transfer,
    require_account,
    require_transfer,
    transfer_stream_id,
)
from eventledger_events import (
    AccountCredited,
    AccountDebited,
    DomainEvent,
    TransferPendingPosted,
    TransferPosted,
)

State = TypeVar("State")

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
_ID_NAMESPACE = UUID("9d7f2f64-1f0c-4f8e-9a65-1d1f0f5c2a11")


def make_id(name: str) -> UUID:
    """A readable, deterministic id for tests: ``make_id("alice")``."""
    return uuid5(_ID_NAMESPACE, name)


class Outcome:
    """What a command answered: events (or a ``Decision``), or a domain refusal."""

    def __init__(self, result: Sequence[DomainEvent] | Decision | None, error: Exception | None) -> None:
        self.result = result
        self.error = error

    @property
    def decision(self) -> Decision:
        """The decision of a service that succeeded."""
        if self.error is not None:
            raise AssertionError(f"expected a decision, got {self.error!r}") from self.error
        assert isinstance(self.result, Decision)
        return self.result

    def then(self, *expected: DomainEvent) -> None:
        """The command succeeded with exactly these events, in this order."""
        if self.error is not None:
            raise AssertionError(f"expected events, got {self.error!r}") from self.error
        assert not isinstance(self.result, Decision)
        assert list(self.result or ()) == list(expected)

    def then_decides(self, expected: dict[str, list[DomainEvent]], *, new_streams: Sequence[str] = ()) -> None:
        """The service succeeded with exactly these events per stream."""
        assert self.decision.as_dict() == expected
        assert self.decision.new_streams == frozenset(new_streams)

    def then_raises(self, error_type: type[DomainError], code: str) -> DomainError:
        """The command was refused with this error type and stable code."""
        assert self.error is not None, f"expected {error_type.__name__}, got {self.result!r}"
        assert isinstance(self.error, error_type), repr(self.error)
        assert self.error.code == code
        return self.error


@dataclass
class Given(Generic[State]):
    """A state rebuilt from past events, ready for a command."""

    rebuilt: State | None

    @property
    def state(self) -> State:
        assert self.rebuilt is not None, "no event given: nothing to rebuild"
        return self.rebuilt

    def when(self, command: Callable[[State], Sequence[DomainEvent]]) -> Outcome:
        """Run a command on the rebuilt state."""
        return self.when_creating(lambda: command(self.state))

    def when_creating(self, command: Callable[[], Sequence[DomainEvent]]) -> Outcome:
        """Run a command that needs no prior state (creation)."""
        try:
            return Outcome(command(), None)
        except DomainError as error:
            return Outcome(None, error)


@dataclass
class DeciderSpec(Generic[State]):
    """given(events...).when(command).then(events...) / .then_raises(Error, "code")."""

    evolve: Callable[[Any, Any], State]

    def given(self, *events: DomainEvent) -> Given[State]:
        state: State | None = None
        for event in events:
            state = self.evolve(state, event)
        return Given(state)


@dataclass
class InMemoryLedger:
    """Streams of events; applies decisions atomically (all streams or none), like the event store will."""

    streams: dict[str, list[DomainEvent]] = field(default_factory=lambda: defaultdict(list))

    def apply(self, decision: Decision) -> Decision:
        for stream_id in decision.new_streams:
            assert not self.streams.get(stream_id), f"{stream_id} already exists"
        for stream_id, events in decision:
            self.streams[stream_id].extend(events)
        return decision

    def given(self, decision: Decision) -> InMemoryLedger:
        self.apply(decision)
        return self

    def account(self, account_id: UUID) -> Account:
        return require_account(rebuild_account(self.streams.get(account_stream_id(account_id), [])), account_id)  # type: ignore[arg-type]

    def transfer(self, transfer_id: UUID) -> Transfer:
        events = self.streams.get(transfer_stream_id(transfer_id), [])
        return require_transfer(rebuild_transfer(events), transfer_id)  # type: ignore[arg-type]

    def when(self, service: Callable[[InMemoryLedger], Decision]) -> Outcome:
        try:
            return Outcome(service(self), None)
        except DomainError as error:
            return Outcome(None, error)

    # ------------------------------------------------------------------ global views for invariants

    def account_ids(self) -> list[UUID]:
        return [UUID(stream[len("account-") :]) for stream in self.streams if stream.startswith("account-")]

    def moved_by_transfers(self) -> dict[UUID, int]:
        """Balance of every account (external included) from the transfer streams alone."""
        balances: dict[UUID, int] = defaultdict(int)
        for stream_id, events in self.streams.items():
            if not stream_id.startswith("transfer-"):
                continue
            for event in events:
                if isinstance(event, TransferPosted | TransferPendingPosted):
                    balances[event.from_account_id] -= event.amount
                    balances[event.to_account_id] += event.amount
        return balances

    def moved_by_account_legs(self) -> dict[UUID, int]:
        """Balance of every account from its own credited/debited events."""
        balances: dict[UUID, int] = defaultdict(int)
        for stream_id, events in self.streams.items():
            if stream_id.startswith("account-"):
                for event in events:
                    if isinstance(event, AccountCredited):
                        balances[event.account_id] += event.amount
                    elif isinstance(event, AccountDebited):
                        balances[event.account_id] -= event.amount
        return balances

    def balance_sum_by_currency(self) -> dict[str, int]:
        """Per currency: sum of the balances of every account, the external account included."""
        totals: dict[str, int] = defaultdict(int)
        for account_id in self.account_ids():
            account = self.account(account_id)
            totals[account.currency] += account.balance
        currencies = {self.account(account_id).currency for account_id in self.account_ids()}
        by_transfers = self.moved_by_transfers()
        for currency in currencies:
            totals[currency] += by_transfers.get(external_account_id(currency), 0)
        return dict(totals)


AccountSpec = DeciderSpec[Account]
"""The given/when/then helper of the account aggregate (fixture ``account_spec``)."""

TransferSpec = DeciderSpec[Transfer]
"""The given/when/then helper of the transfer aggregate (fixture ``transfer_spec``)."""
