"""The transfer aggregate, decider style: the lifecycle of one movement of money.

States: posted (one-phase; final), or pending -> posted | voided | expired. A pending transfer can be posted
only before ``expires_at``; it can be expired only from ``expires_at`` on. Time is always passed in (``now``).
The account legs are decided by the account aggregate; ``ledger`` puts both together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import assert_never
from uuid import UUID

from eventledger_command.domain.amounts import require_positive_amount
from eventledger_command.domain.currency import require_currency
from eventledger_command.domain.errors import (
    CorruptHistoryError,
    InvalidTimeoutError,
    SameAccountError,
    TransferExpiredError,
    TransferNotExpiredError,
    TransferNotPendingError,
)
from eventledger_command.domain.value_dates import ValueDating, dated_fields
from eventledger_events.transfer_events import (
    TransferEvent,
    TransferExpired,
    TransferKind,
    TransferPendingCreated,
    TransferPendingPosted,
    TransferPosted,
    TransferVoided,
)


class TransferStatus(StrEnum):
    """Where a transfer is in its life. Only ``pending`` is not final."""

    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Transfer:
    """The state of one transfer, as rebuilt from its stream. ``expires_at`` is set for two-phase transfers."""

    transfer_id: UUID
    kind: TransferKind
    from_account_id: UUID
    to_account_id: UUID
    amount: int
    currency: str
    description: str
    status: TransferStatus
    expires_at: datetime | None = None

    # ------------------------------------------------------------------ commands

    @staticmethod
    def create(
        transfer_id: UUID,
        *,
        kind: TransferKind,
        from_account_id: UUID,
        to_account_id: UUID,
        amount: int,
        currency: str,
        description: str = "",
        now: datetime | None = None,
        expires_at: datetime | None = None,
        dating: ValueDating | None = None,
    ) -> list[TransferEvent]:
        """Record a transfer: one-phase (posted, money moves now, or at the value date of ``dating``) without
        ``expires_at``; two-phase (pending) with it, in which case it must be after ``now`` and carries no value
        date (its money counts when it is posted; :func:`~eventledger_command.domain.ledger.transfer` refuses one)."""
        _check_movement(from_account_id, to_account_id, amount, currency)
        movement = {
            "transfer_id": transfer_id,
            "kind": kind,
            "from_account_id": from_account_id,
            "to_account_id": to_account_id,
            "amount": amount,
            "currency": currency,
            "description": description,
        }
        if expires_at is None:
            return [TransferPosted.model_validate({**movement, **dated_fields(dating)})]
        if now is None:
            raise ValueError("a pending transfer is created at a given moment (now)")
        if expires_at <= now:
            raise InvalidTimeoutError("a pending transfer must expire after it is created")
        return [TransferPendingCreated.model_validate({**movement, "expires_at": expires_at})]

    def post(self, now: datetime) -> list[TransferEvent]:
        """Post a pending transfer that has not expired at ``now``."""
        self._ensure_pending()
        if self.is_expired_at(now):
            raise TransferExpiredError("the pending transfer has expired", transfer_id=str(self.transfer_id))
        return [
            TransferPendingPosted(
                transfer_id=self.transfer_id,
                from_account_id=self.from_account_id,
                to_account_id=self.to_account_id,
                amount=self.amount,
                currency=self.currency,
            )
        ]

    def void(self) -> list[TransferEvent]:
        """Cancel a pending transfer (even one past its timeout that was not expired yet)."""
        self._ensure_pending()
        return [TransferVoided(transfer_id=self.transfer_id)]

    def expire(self, now: datetime) -> list[TransferEvent]:
        """Expire a pending transfer whose timeout has passed at ``now``."""
        self._ensure_pending()
        if not self.is_expired_at(now):
            raise TransferNotExpiredError(
                "the pending transfer has not reached its timeout", transfer_id=str(self.transfer_id)
            )
        return [TransferExpired(transfer_id=self.transfer_id)]

    # ------------------------------------------------------------------ queries

    def is_expired_at(self, now: datetime) -> bool:
        """Whether a pending transfer's timeout has passed at ``now`` (from ``expires_at`` on, inclusive)."""
        return self.expires_at is not None and now >= self.expires_at

    def _ensure_pending(self) -> None:
        if self.status is not TransferStatus.PENDING:
            raise TransferNotPendingError(
                f"the transfer is {self.status}, not pending",
                transfer_id=str(self.transfer_id),
                status=str(self.status),
            )


def _check_movement(from_account_id: UUID, to_account_id: UUID, amount: int, currency: str) -> None:
    require_positive_amount(amount)
    if from_account_id == to_account_id:
        raise SameAccountError("a transfer needs two different accounts", account_id=str(from_account_id))
    require_currency(currency)


# ---------------------------------------------------------------------- evolution


def evolve_transfer(state: Transfer | None, event: TransferEvent) -> Transfer:
    """The state after ``event``; ``CorruptHistoryError`` if the history is impossible."""
    if isinstance(event, TransferPosted | TransferPendingCreated):
        if state is not None:
            raise CorruptHistoryError(f"transfer {event.transfer_id} created twice")
        if isinstance(event, TransferPendingCreated):
            status, expires_at = TransferStatus.PENDING, event.expires_at
        else:
            status, expires_at = TransferStatus.POSTED, None
        return Transfer(
            transfer_id=event.transfer_id,
            kind=event.kind,
            from_account_id=event.from_account_id,
            to_account_id=event.to_account_id,
            amount=event.amount,
            currency=event.currency,
            description=event.description,
            status=status,
            expires_at=expires_at,
        )
    if state is None or state.status is not TransferStatus.PENDING:
        raise CorruptHistoryError(f"{event.full_name()} on a transfer that is not pending")
    match event:
        case TransferPendingPosted():
            return replace(state, status=TransferStatus.POSTED)
        case TransferVoided():
            return replace(state, status=TransferStatus.VOIDED)
        case TransferExpired():
            return replace(state, status=TransferStatus.EXPIRED)
        case _:
            assert_never(event)


def rebuild_transfer(events: Iterable[TransferEvent], state: Transfer | None = None) -> Transfer | None:
    """Fold ``events`` over ``state`` (``None``: from the start of the stream, or a snapshot's state)."""
    for event in events:
        state = evolve_transfer(state, event)
    return state
