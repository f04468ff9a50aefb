"""Property: whatever commands run, per currency the sum of all balances (external accounts included) is 0,
every account's legs match the transfers, and no account's available ever drops below 0.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from eventledger_command import domain

if TYPE_CHECKING:
    from tests.support.domain import InMemoryLedger

pytestmark = pytest.mark.unit

_NS = UUID("2c4e6a8b-0d1f-4a3c-8e5b-7d9f1b3d5e7a")
START = datetime(2030, 1, 1, tzinfo=UTC)
ACCOUNTS = [
    (uuid5(_NS, f"account-{index}"), currency, limit)
    for index, (currency, limit) in enumerate(
        [("EUR", 0), ("EUR", 500), ("EUR", 0), ("EUR", 200), ("USD", 100), ("USD", 0)]
    )
]
INITIAL_FUNDS = 1_000

account_index = st.integers(min_value=0, max_value=len(ACCOUNTS) - 1)
amount = st.integers(min_value=1, max_value=1_500)
pick = st.integers(min_value=0, max_value=50)
deposit_op = st.tuples(st.just("deposit"), account_index, amount)
withdraw_op = st.tuples(st.just("withdraw"), account_index, amount)
transfer_op = st.tuples(st.just("transfer"), account_index, account_index, amount)
pending_op = st.tuples(
    st.just("pending"), account_index, account_index, amount, st.integers(min_value=1, max_value=120)
)
settle_op = st.tuples(st.sampled_from(["post", "void", "expire"]), pick)
wait_op = st.tuples(st.just("wait"), st.integers(min_value=1, max_value=90))
status_op = st.tuples(st.sampled_from(["freeze", "unfreeze", "close"]), account_index)
# Repeating a strategy in one_of weights it: money movements are common, status changes rare.
operation = st.one_of(
    deposit_op,
    withdraw_op,
    transfer_op,
    transfer_op,
    pending_op,
    pending_op,
    settle_op,
    settle_op,
    settle_op,
    wait_op,
    status_op,
)


def _run(ledger: InMemoryLedger, step: int, now: datetime, op: tuple[Any, ...]) -> datetime:
    """Decide one operation on the current states and apply it if accepted; answers the new ``now``."""
    kind, *args = op
    transfer_id = uuid5(_NS, f"transfer-{step}")
    pending_ids = [
        state.transfer_id
        for state in (
            ledger.transfer(UUID(stream[len("transfer-") :]))
            for stream in ledger.streams
            if stream.startswith("transfer-")
        )
        if state.status is domain.TransferStatus.PENDING
    ]
    if kind == "wait":
        return now + timedelta(seconds=args[0])
    if kind == "close":
        account = ledger.account(ACCOUNTS[args[0]][0])
        if account.balance > 0:
            _attempt(
                ledger, "drain", lambda: domain.withdrawal(account, transfer_id=transfer_id, amount=account.balance)
            )

    def between(timeout: timedelta | None) -> domain.Decision:
        """A transfer from the first account of ``args`` to the second (pending when it has a timeout)."""
        source, destination = (ledger.account(ACCOUNTS[i][0]) for i in args[:2])
        return domain.transfer(source, destination, transfer_id=transfer_id, amount=args[2], now=now, timeout=timeout)

    decide = {
        "deposit": lambda: domain.deposit(
            ledger.account(ACCOUNTS[args[0]][0]), transfer_id=transfer_id, amount=args[1]
        ),
        "withdraw": lambda: domain.withdrawal(
            ledger.account(ACCOUNTS[args[0]][0]), transfer_id=transfer_id, amount=args[1]
        ),
        "transfer": lambda: between(None),
        "pending": lambda: between(timedelta(seconds=args[3])),
        "freeze": lambda: domain.freeze_account(ledger.account(ACCOUNTS[args[0]][0])),
        "unfreeze": lambda: domain.unfreeze_account(ledger.account(ACCOUNTS[args[0]][0])),
        "close": lambda: domain.close_account(ledger.account(ACCOUNTS[args[0]][0])),
    }
    if kind in ("post", "void", "expire"):
        if not pending_ids:
            return now
        pending = ledger.transfer(pending_ids[args[0] % len(pending_ids)])
        source = ledger.account(pending.from_account_id)
        decide = {
            "post": lambda: domain.post_pending(pending, source, ledger.account(pending.to_account_id), now=now),
            "void": lambda: domain.void_pending(pending, source),
            "expire": lambda: domain.expire_pending(pending, source, now=now),
        }
    _attempt(ledger, kind, decide[kind])
    return now


def _attempt(ledger: InMemoryLedger, kind: str, decide: Callable[[], domain.Decision]) -> None:
    """Apply a decision if the domain accepts it; a refusal must leave every stream as it was."""
    before = {stream: list(events) for stream, events in ledger.streams.items() if events}
    try:
        ledger.apply(decide())
        event(f"{kind}: accepted")
    except domain.DomainError as refusal:
        event(f"{kind}: refused ({refusal.code})")
        assert {stream: list(events) for stream, events in ledger.streams.items() if events} == before


def _check_invariants(ledger: InMemoryLedger) -> None:
    assert all(total == 0 for total in ledger.balance_sum_by_currency().values()), ledger.balance_sum_by_currency()
    by_transfers, by_legs = ledger.moved_by_transfers(), ledger.moved_by_account_legs()
    pending_by_source: dict[UUID, int] = {}
    for stream in ledger.streams:
        if stream.startswith("transfer-"):
            state = ledger.transfer(UUID(stream[len("transfer-") :]))
            if state.status is domain.TransferStatus.PENDING:
                pending_by_source[state.from_account_id] = (
                    pending_by_source.get(state.from_account_id, 0) + state.amount
                )
    for account_id, _, _ in ACCOUNTS:
        account = ledger.account(account_id)
        assert account.balance == by_transfers.get(account_id, 0) == by_legs.get(account_id, 0)
        assert account.available >= 0
        assert account.held == pending_by_source.get(account_id, 0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(operation, min_size=20, max_size=80))
def test_money_is_conserved_per_currency_across_any_sequence(
    ledger_factory: type[InMemoryLedger], operations: list[tuple[Any, ...]]
) -> None:
    ledger = ledger_factory()
    for account_id, currency, limit in ACCOUNTS:
        ledger.apply(
            domain.open_account(account_id=account_id, holder_name="h", currency=currency, overdraft_limit=limit)
        )
        funding = domain.deposit(
            ledger.account(account_id), transfer_id=uuid5(account_id, "funding"), amount=INITIAL_FUNDS
        )
        ledger.apply(funding)
    now = START
    for step, op in enumerate(operations):
        now = _run(ledger, step, now, op)
        _check_invariants(ledger)
