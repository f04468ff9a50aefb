"""Events of the ``transfer`` stream category (current schema versions).

A transfer's stream records its lifecycle; the matching account legs (credited/debited/hold events) are
appended to the account streams in the same atomic append. Deposits and withdrawals are transfers whose other
side is the currency's external account, which has no stream of its own.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from eventledger_events.base import DomainEvent
from eventledger_events.values import Backdated, CurrencyCode, Description, PositiveMinorUnits, UtcDateTime, ValueDate


class TransferKind(StrEnum):
    """What a transfer is to the client: between two accounts, or against the external account."""

    TRANSFER = "transfer"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class TransferPosted(DomainEvent):
    """A one-phase transfer moved money: the source was debited and the destination credited, together.

    v2 added ``value_date`` (when the money counts, for both legs; ``None`` for v1 events, which count from when
    they were recorded) and ``backdated``; v1 events are upcast with ``None`` and ``False``.
    """

    EVENT_TYPE: ClassVar[str] = "transfer.posted"
    SCHEMA_VERSION: ClassVar[int] = 2
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"description"})
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ("from_account_id", "to_account_id")

    transfer_id: UUID
    kind: TransferKind
    from_account_id: UUID
    to_account_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode
    description: Description = ""
    value_date: ValueDate = None
    backdated: Backdated = False


class TransferPendingCreated(DomainEvent):
    """A two-phase transfer started: a hold was placed on the source; no money has moved yet.

    It is later posted, voided, or expires at ``expires_at`` (the creation time plus its timeout).
    """

    EVENT_TYPE: ClassVar[str] = "transfer.pending_created"
    SCHEMA_VERSION: ClassVar[int] = 1
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"description"})
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ("from_account_id", "to_account_id")

    transfer_id: UUID
    kind: TransferKind
    from_account_id: UUID
    to_account_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode
    description: Description = ""
    expires_at: UtcDateTime = Field(description="When the transfer expires if not posted or voided.")


class TransferPendingPosted(DomainEvent):
    """A pending transfer was posted before it expired: its hold was captured and the money moved."""

    EVENT_TYPE: ClassVar[str] = "transfer.pending_posted"
    SCHEMA_VERSION: ClassVar[int] = 1

    transfer_id: UUID
    from_account_id: UUID
    to_account_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode


class TransferVoided(DomainEvent):
    """A pending transfer was cancelled: its hold was released and no money moved."""

    EVENT_TYPE: ClassVar[str] = "transfer.voided"
    SCHEMA_VERSION: ClassVar[int] = 1

    transfer_id: UUID


class TransferExpired(DomainEvent):
    """A pending transfer reached its timeout unposted: its hold was released and no money moved."""

    EVENT_TYPE: ClassVar[str] = "transfer.expired"
    SCHEMA_VERSION: ClassVar[int] = 1

    transfer_id: UUID


TransferEvent = TransferPosted | TransferPendingCreated | TransferPendingPosted | TransferVoided | TransferExpired
"""Every current-version event of a transfer stream."""

TRANSFER_EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    TransferPosted,
    TransferPendingCreated,
    TransferPendingPosted,
    TransferVoided,
    TransferExpired,
)
"""The current-version transfer event models, in a stable order."""
