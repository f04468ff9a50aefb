"""The account aggregate, decider style: immutable state, ``evolve`` to rebuild it, commands that return events.

Rules (product specification §2):
- an account has a holder name, a currency that never changes, and an overdraft limit >= 0;
- ``balance`` = credits - debits; ``available`` = balance + overdraft limit - open holds;
- a debit or a new hold must leave ``available >= 0``, otherwise ``insufficient_funds``;
- statuses: open -> frozen <-> open; open/frozen -> closed. Frozen: no debit, no new hold, credits allowed.
  Closed: nothing at all. Closing needs balance 0 and no open hold.
Commands never mutate: they check every rule, then answer the events that record the decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import assert_never
from uuid import UUID

from eventledger_command.domain.amounts import require_overdraft_limit, require_positive_amount
from eventledger_command.domain.currency import require_currency
from eventledger_command.domain.errors import (
    AccountClosedError,
    AccountFrozenError,
    AccountHasOpenHoldsError,
    AccountNotEmptyError,
    AccountNotFrozenError,
    CorruptHistoryError,
    CurrencyMismatchError,
    HoldAlreadyPlacedError,
    HoldNotFoundError,
    InsufficientFundsError,
    InvalidHolderNameError,
)
from eventledger_command.domain.value_dates import ValueDating, dated_fields
from eventledger_events.account_events import (
    AccountClosed,
    AccountCredited,
    AccountDebited,
    AccountEvent,
    AccountFrozen,
    AccountHoldPlaced,
    AccountHoldReleased,
    AccountOpened,
    AccountPersonalDataErased,
    AccountUnfrozen,
    HoldReleaseReason,
)
from eventledger_events.bounds import unstorable_text_reason


class AccountStatus(StrEnum):
    """Where an account is in its life."""

    OPEN = "open"
    FROZEN = "frozen"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Hold:
    """An amount reserved on an account by a pending transfer, until it is posted, voided or expired."""

    transfer_id: UUID
    amount: int
    expires_at: datetime


def _no_holds() -> Mapping[UUID, Hold]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Account:
    """The state of one account, as rebuilt from its stream. Never mutated: ``evolve`` answers a new one."""

    account_id: UUID
    holder_name: str
    currency: str
    overdraft_limit: int
    status: AccountStatus = AccountStatus.OPEN
    balance: int = 0
    holds: Mapping[UUID, Hold] = field(default_factory=_no_holds)
    erased: bool = False
    """Whether the holder's personal data was erased (its data key destroyed): nothing personal is recorded again."""

    @property
    def held(self) -> int:
        """The total of open holds."""
        return sum(hold.amount for hold in self.holds.values())

    @property
    def available(self) -> int:
        """What may still be debited or held: balance + overdraft limit - open holds."""
        return self.balance + self.overdraft_limit - self.held

    # ------------------------------------------------------------------ commands

    @staticmethod
    def open(account_id: UUID, holder_name: str, currency: str, overdraft_limit: int = 0) -> list[AccountEvent]:
        """Open a new account; the holder name is stripped of surrounding blanks and must not be empty."""
        name = holder_name.strip()
        if not name:
            raise InvalidHolderNameError("holder name must not be empty")
        if (reason := unstorable_text_reason(name)) is not None:
            raise InvalidHolderNameError(f"holder name {reason}")
        return [
            AccountOpened(
                account_id=account_id,
                holder_name=name,
                currency=require_currency(currency),
                overdraft_limit=require_overdraft_limit(overdraft_limit),
            )
        ]

    def freeze(self) -> list[AccountEvent]:
        """Freeze an open account."""
        self._refuse_if_closed()
        if self.status is AccountStatus.FROZEN:
            raise AccountFrozenError("account is already frozen", account_id=str(self.account_id))
        return [AccountFrozen(account_id=self.account_id)]

    def unfreeze(self) -> list[AccountEvent]:
        """Open a frozen account again."""
        self._refuse_if_closed()
        if self.status is not AccountStatus.FROZEN:
            raise AccountNotFrozenError("account is not frozen", account_id=str(self.account_id))
        return [AccountUnfrozen(account_id=self.account_id)]

    def close(self) -> list[AccountEvent]:
        """Close an open or frozen account whose balance is 0 and that has no open hold."""
        self._refuse_if_closed()
        if self.balance != 0:
            raise AccountNotEmptyError(
                "only an account with a zero balance can be closed",
                account_id=str(self.account_id),
                balance=self.balance,
            )
        if self.holds:
            raise AccountHasOpenHoldsError(
                "an account with open holds cannot be closed",
                account_id=str(self.account_id),
                open_holds=len(self.holds),
            )
        return [AccountClosed(account_id=self.account_id)]

    def credit(
        self,
        transfer_id: UUID,
        *,
        amount: int,
        currency: str,
        counterparty_account_id: UUID,
        description: str = "",
        dating: ValueDating | None = None,
    ) -> list[AccountEvent]:
        """Receive ``amount``: allowed when open or frozen, never when closed."""
        self.ensure_can_receive(amount, currency)
        return [
            AccountCredited(
                account_id=self.account_id,
                transfer_id=transfer_id,
                amount=amount,
                currency=currency,
                balance_after=self.balance + amount,
                counterparty_account_id=counterparty_account_id,
                description=description,
                **dated_fields(dating),
            )
        ]

    def debit(
        self,
        transfer_id: UUID,
        *,
        amount: int,
        currency: str,
        counterparty_account_id: UUID,
        description: str = "",
        dating: ValueDating | None = None,
    ) -> list[AccountEvent]:
        """Pay ``amount`` out: only when open, and only if ``available`` stays >= 0."""
        self._ensure_can_spend(amount, currency)
        return [
            AccountDebited(
                account_id=self.account_id,
                transfer_id=transfer_id,
                amount=amount,
                currency=currency,
                balance_after=self.balance - amount,
                counterparty_account_id=counterparty_account_id,
                description=description,
                **dated_fields(dating),
            )
        ]

    def place_hold(self, transfer_id: UUID, *, amount: int, currency: str, expires_at: datetime) -> list[AccountEvent]:
        """Reserve ``amount`` for a pending transfer: only when open, and only if ``available`` stays >= 0."""
        if transfer_id in self.holds:
            raise HoldAlreadyPlacedError(
                "this transfer already holds an amount on the account", transfer_id=str(transfer_id)
            )
        self._ensure_can_spend(amount, currency)
        return [
            AccountHoldPlaced(
                account_id=self.account_id,
                transfer_id=transfer_id,
                amount=amount,
                currency=currency,
                expires_at=expires_at,
            )
        ]

    def release_hold(self, transfer_id: UUID, reason: HoldReleaseReason) -> list[AccountEvent]:
        """Release the hold of a voided or expired transfer (any status: it only makes more available).

        A posted transfer's hold is released by ``capture_hold``, which also debits.
        """
        if reason is HoldReleaseReason.POSTED:
            raise ValueError("a hold is released as posted only by capture_hold, together with its debit")
        hold = self._hold(transfer_id)
        return [self._released(hold, reason)]

    def capture_hold(
        self,
        transfer_id: UUID,
        *,
        counterparty_account_id: UUID,
        description: str = "",
        dating: ValueDating | None = None,
    ) -> list[AccountEvent]:
        """Post a held amount: release the hold and debit the same amount, together.

        The hold was already counted in ``available``, so capturing never causes insufficient funds; but it is a
        debit, so the account must be open (not frozen, not closed).
        """
        hold = self._hold(transfer_id)
        self._refuse_if_closed()
        if self.status is AccountStatus.FROZEN:
            raise AccountFrozenError("a frozen account cannot be debited", account_id=str(self.account_id))
        return [
            self._released(hold, HoldReleaseReason.POSTED),
            AccountDebited(
                account_id=self.account_id,
                transfer_id=transfer_id,
                amount=hold.amount,
                currency=self.currency,
                balance_after=self.balance - hold.amount,
                counterparty_account_id=counterparty_account_id,
                description=description,
                **dated_fields(dating),
            ),
        ]

    # ------------------------------------------------------------------ checks shared by commands

    def ensure_can_receive(self, amount: int, currency: str) -> None:
        """Refuse unless ``amount`` in ``currency`` could be credited now (used before a pending transfer)."""
        require_positive_amount(amount)
        self._refuse_if_closed()
        self._refuse_other_currency(currency)

    def _ensure_can_spend(self, amount: int, currency: str) -> None:
        require_positive_amount(amount)
        self._refuse_if_closed()
        if self.status is AccountStatus.FROZEN:
            raise AccountFrozenError("a frozen account cannot be debited nor held", account_id=str(self.account_id))
        self._refuse_other_currency(currency)
        if self.available - amount < 0:
            raise InsufficientFundsError(
                "the amount exceeds what is available",
                account_id=str(self.account_id),
                available=self.available,
                requested=amount,
            )

    def _refuse_if_closed(self) -> None:
        if self.status is AccountStatus.CLOSED:
            raise AccountClosedError("account is closed", account_id=str(self.account_id))

    def _refuse_other_currency(self, currency: str) -> None:
        if currency != self.currency:
            raise CurrencyMismatchError(
                f"account holds {self.currency}, not {currency}",
                account_id=str(self.account_id),
                account_currency=self.currency,
                currency=currency,
            )

    def _hold(self, transfer_id: UUID) -> Hold:
        hold = self.holds.get(transfer_id)
        if hold is None:
            raise HoldNotFoundError("no open hold for this transfer", transfer_id=str(transfer_id))
        return hold

    def _released(self, hold: Hold, reason: HoldReleaseReason) -> AccountHoldReleased:
        return AccountHoldReleased(
            account_id=self.account_id,
            transfer_id=hold.transfer_id,
            amount=hold.amount,
            currency=self.currency,
            reason=reason,
        )


# ---------------------------------------------------------------------- evolution


_STATUS_AFTER: Mapping[type[AccountEvent], AccountStatus] = MappingProxyType(
    {AccountFrozen: AccountStatus.FROZEN, AccountUnfrozen: AccountStatus.OPEN, AccountClosed: AccountStatus.CLOSED}
)


def evolve_account(state: Account | None, event: AccountEvent) -> Account:
    """The state after ``event``. Events are facts: no rule is checked, only that the history is possible."""
    if isinstance(event, AccountOpened):
        if state is not None:
            raise CorruptHistoryError(f"account {event.account_id} opened twice")
        return Account(
            account_id=event.account_id,
            holder_name=event.holder_name,
            currency=event.currency,
            overdraft_limit=event.overdraft_limit,
        )
    if state is None:
        raise CorruptHistoryError(f"{event.full_name()} before account.opened")
    new_state: Account
    match event:
        case AccountFrozen() | AccountUnfrozen() | AccountClosed():
            new_state = replace(state, status=_STATUS_AFTER[type(event)])
        case AccountPersonalDataErased():
            new_state = replace(state, erased=True)
        case AccountCredited():
            new_state = replace(state, balance=state.balance + event.amount)
        case AccountDebited():
            new_state = replace(state, balance=state.balance - event.amount)
        case AccountHoldPlaced():
            hold = Hold(transfer_id=event.transfer_id, amount=event.amount, expires_at=event.expires_at)
            new_state = replace(state, holds=MappingProxyType({**state.holds, event.transfer_id: hold}))
        case AccountHoldReleased():
            if event.transfer_id not in state.holds:
                raise CorruptHistoryError(f"hold of transfer {event.transfer_id} released but never placed")
            remaining = {key: hold for key, hold in state.holds.items() if key != event.transfer_id}
            new_state = replace(state, holds=MappingProxyType(remaining))
        case _:
            assert_never(event)
    return new_state


def rebuild_account(events: Iterable[AccountEvent], state: Account | None = None) -> Account | None:
    """Fold ``events`` over ``state`` (``None``: from the start of the stream, or a snapshot's state)."""
    for event in events:
        state = evolve_account(state, event)
    return state
