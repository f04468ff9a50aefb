"""Domain services: decisions that span several streams, so that each is appended atomically.

Each function takes the states the application loaded (and ``now`` and fresh ids as arguments: the domain
reads no clock and draws no random id), checks every rule through the aggregates, and answers a ``Decision``.
Nothing is appended, nothing is mutated. Double entry: every movement debits one side and credits the other in
the same decision; the currency's external account (deposits, withdrawals) has no stream, so only the account
stream and the transfer stream are written and deposits to different accounts never contend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from eventledger_command.domain.account import Account
from eventledger_command.domain.amounts import require_positive_amount
from eventledger_command.domain.decision import Decision
from eventledger_command.domain.errors import (
    AccountNotFoundError,
    InvalidDescriptionError,
    InvalidTimeoutError,
    InvalidValueDateError,
    SameAccountError,
    TransferNotFoundError,
)
from eventledger_command.domain.identifiers import (
    account_stream_id,
    external_account_id,
    transfer_stream_id,
)
from eventledger_command.domain.transfer import Transfer
from eventledger_command.domain.value_dates import ValueDating
from eventledger_events.account_events import HoldReleaseReason
from eventledger_events.base import DomainEvent
from eventledger_events.bounds import unstorable_text_reason
from eventledger_events.transfer_events import TransferKind


def require_account(state: Account | None, account_id: UUID) -> Account:
    """The loaded account, or ``AccountNotFoundError`` when its stream is empty."""
    if state is None:
        raise AccountNotFoundError(f"no account {account_id}", account_id=str(account_id))
    return state


def require_transfer(state: Transfer | None, transfer_id: UUID) -> Transfer:
    """The loaded transfer, or ``TransferNotFoundError`` when its stream is empty."""
    if state is None:
        raise TransferNotFoundError(f"no transfer {transfer_id}", transfer_id=str(transfer_id))
    return state


# ---------------------------------------------------------------------- account lifecycle


def open_account(*, account_id: UUID, holder_name: str, currency: str, overdraft_limit: int = 0) -> Decision:
    """Open an account: a new ``account-<id>`` stream."""
    stream = account_stream_id(account_id)
    events = Account.open(account_id, holder_name, currency, overdraft_limit)
    return Decision.of({stream: events}, new_streams=[stream])


def freeze_account(account: Account) -> Decision:
    """Freeze an open account."""
    return Decision.of({account_stream_id(account.account_id): account.freeze()})


def unfreeze_account(account: Account) -> Decision:
    """Unfreeze a frozen account."""
    return Decision.of({account_stream_id(account.account_id): account.unfreeze()})


def close_account(account: Account) -> Decision:
    """Close an account whose balance is 0 and that has no open hold."""
    return Decision.of({account_stream_id(account.account_id): account.close()})


# ---------------------------------------------------------------------- one-phase movements


def deposit(
    account: Account, *, transfer_id: UUID, amount: int, description: str = "", dating: ValueDating | None = None
) -> Decision:
    """Money comes in from outside: external account of the currency -> ``account`` (open or frozen)."""
    _require_storable_description(description)
    return _posted(
        transfer_id,
        TransferKind.DEPOSIT,
        source=external_account_id(account.currency),
        destination=account,
        amount=amount,
        description=description,
        dating=dating,
    )


def withdrawal(
    account: Account, *, transfer_id: UUID, amount: int, description: str = "", dating: ValueDating | None = None
) -> Decision:
    """Money goes out: ``account`` (open, enough available) -> external account of the currency."""
    _require_storable_description(description)
    return _posted(
        transfer_id,
        TransferKind.WITHDRAWAL,
        source=account,
        destination=external_account_id(account.currency),
        amount=amount,
        description=description,
        dating=dating,
    )


def transfer(
    source: Account,
    destination: Account,
    *,
    transfer_id: UUID,
    amount: int,
    now: datetime,
    description: str = "",
    timeout: timedelta | None = None,
    dating: ValueDating | None = None,
) -> Decision:
    """Move ``amount`` between two different accounts of the same currency.

    Without ``timeout`` it is posted at once (source debited, destination credited), both legs at the value date
    of ``dating``. With a ``timeout`` > 0 it is pending: a hold is placed on the source until ``now + timeout``;
    the destination must be able to receive (not closed, same currency) but is credited only when the transfer is
    posted, so a pending transfer takes no value date of its own.
    """
    require_positive_amount(amount)
    _require_storable_description(description)
    if source.account_id == destination.account_id:
        raise SameAccountError("a transfer needs two different accounts", account_id=str(source.account_id))
    destination.ensure_can_receive(amount, source.currency)
    if timeout is None:
        return _posted(
            transfer_id,
            TransferKind.TRANSFER,
            source=source,
            destination=destination,
            amount=amount,
            description=description,
            dating=dating,
        )
    if dating is not None and dating.value_date != now:
        raise InvalidValueDateError("a pending transfer takes no value date: its money counts when it is posted")
    if timeout <= timedelta(0):
        raise InvalidTimeoutError("a pending transfer's timeout must be positive")
    expires_at = now + timeout
    hold_events = source.place_hold(transfer_id, amount=amount, currency=source.currency, expires_at=expires_at)
    transfer_events = Transfer.create(
        transfer_id,
        kind=TransferKind.TRANSFER,
        from_account_id=source.account_id,
        to_account_id=destination.account_id,
        amount=amount,
        currency=source.currency,
        now=now,
        expires_at=expires_at,
        description=description,
    )
    return _new_transfer(transfer_id, transfer_events, {source.account_id: hold_events})


# ---------------------------------------------------------------------- two-phase settlement


def post_pending(pending: Transfer, source: Account, destination: Account, *, now: datetime) -> Decision:
    """Post a pending transfer before it expires: capture the source's hold (release + debit), credit the
    destination, mark the transfer posted.
    """
    _check_legs(pending, source, destination)
    transfer_events = pending.post(now)
    dating = ValueDating(now)  # the held money counts from the moment it moves
    source_events = source.capture_hold(
        pending.transfer_id,
        counterparty_account_id=destination.account_id,
        description=pending.description,
        dating=dating,
    )
    destination_events = destination.credit(
        pending.transfer_id,
        amount=pending.amount,
        currency=pending.currency,
        counterparty_account_id=source.account_id,
        description=pending.description,
        dating=dating,
    )
    return Decision.of(
        {
            transfer_stream_id(pending.transfer_id): transfer_events,
            account_stream_id(source.account_id): source_events,
            account_stream_id(destination.account_id): destination_events,
        }
    )


def void_pending(pending: Transfer, source: Account) -> Decision:
    """Cancel a pending transfer: release the source's hold, mark the transfer voided."""
    _check_legs(pending, source)
    return _released(pending, pending.void(), source, HoldReleaseReason.VOIDED)


def expire_pending(pending: Transfer, source: Account, *, now: datetime) -> Decision:
    """Expire a pending transfer past its timeout: release the source's hold, mark the transfer expired."""
    _check_legs(pending, source)
    return _released(pending, pending.expire(now), source, HoldReleaseReason.EXPIRED)


# ---------------------------------------------------------------------- helpers


def _require_storable_description(description: str) -> None:
    """A description travels in every leg's event: refuse what the store cannot keep before any leg is decided."""
    if (reason := unstorable_text_reason(description)) is not None:
        raise InvalidDescriptionError(f"description {reason}")


def _posted(
    transfer_id: UUID,
    kind: TransferKind,
    *,
    source: Account | UUID,
    destination: Account | UUID,
    amount: int,
    description: str,
    dating: ValueDating | None,
) -> Decision:
    """A one-phase transfer: debit the source, credit the destination, both at one value date; a bare id is the
    external account."""
    currency = (source if isinstance(source, Account) else _account(destination)).currency
    from_id = source.account_id if isinstance(source, Account) else source
    to_id = destination.account_id if isinstance(destination, Account) else destination
    legs: dict[UUID, Sequence[DomainEvent]] = {}
    if isinstance(source, Account):
        legs[from_id] = source.debit(
            transfer_id,
            amount=amount,
            currency=currency,
            counterparty_account_id=to_id,
            description=description,
            dating=dating,
        )
    if isinstance(destination, Account):
        legs[to_id] = destination.credit(
            transfer_id,
            amount=amount,
            currency=currency,
            counterparty_account_id=from_id,
            description=description,
            dating=dating,
        )
    transfer_events = Transfer.create(
        transfer_id,
        kind=kind,
        from_account_id=from_id,
        to_account_id=to_id,
        amount=amount,
        currency=currency,
        description=description,
        dating=dating,
    )
    return _new_transfer(transfer_id, transfer_events, legs)


def _released(
    pending: Transfer, transfer_events: Sequence[DomainEvent], source: Account, reason: HoldReleaseReason
) -> Decision:
    """A pending transfer that ends without moving money: ``transfer_events`` and the release of the source's hold."""
    return Decision.of(
        {
            transfer_stream_id(pending.transfer_id): transfer_events,
            account_stream_id(source.account_id): source.release_hold(pending.transfer_id, reason),
        }
    )


def _account(side: Account | UUID) -> Account:
    if not isinstance(side, Account):
        raise TypeError("at least one side of a transfer is an account of ours")
    return side


def _new_transfer(
    transfer_id: UUID,
    transfer_events: Sequence[DomainEvent],
    legs: Mapping[UUID, Sequence[DomainEvent]],
) -> Decision:
    """A decision creating the transfer's stream, followed by its account legs."""
    stream = transfer_stream_id(transfer_id)
    events_by_stream: dict[str, Sequence[DomainEvent]] = {stream: transfer_events}
    events_by_stream.update({account_stream_id(account_id): events for account_id, events in legs.items()})
    return Decision.of(events_by_stream, new_streams=[stream])


def _check_legs(pending: Transfer, source: Account, destination: Account | None = None) -> None:
    """The application must load the transfer's own accounts; anything else is a programming error."""
    if source.account_id != pending.from_account_id:
        raise ValueError(f"account {source.account_id} is not the source of transfer {pending.transfer_id}")
    if destination is not None and destination.account_id != pending.to_account_id:
        raise ValueError(f"account {destination.account_id} is not the destination of transfer {pending.transfer_id}")
