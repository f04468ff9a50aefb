"""Older schema versions still readable from the event store and from Kafka.

A legacy model is frozen in time: never edit it (its published ``.avsc`` must keep matching it). Data written
at its version is validated with it, then upcast to the current version (see ``upcasters``).
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from eventledger_events.base import DomainEvent
from eventledger_events.transfer_events import TransferKind
from eventledger_events.values import (
    CurrencyCode,
    Description,
    HolderName,
    PositiveMinorUnits,
    SignedMinorUnits,
)


class AccountOpenedV1(DomainEvent):
    """An account was opened (v1: no overdraft limit; it is read as 0)."""

    EVENT_TYPE: ClassVar[str] = "account.opened"
    SCHEMA_VERSION: ClassVar[int] = 1
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"holder_name"})
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ("account_id",)

    account_id: UUID
    holder_name: HolderName
    currency: CurrencyCode


class AccountCreditedV1(DomainEvent):
    """Money arrived on the account as one leg of a posted transfer.

    v1: no value date; it counts from when it was recorded.
    """

    EVENT_TYPE: ClassVar[str] = "account.credited"
    SCHEMA_VERSION: ClassVar[int] = 1
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"description"})
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ("account_id", "counterparty_account_id")

    account_id: UUID
    transfer_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode
    balance_after: SignedMinorUnits = Field(description="The account's balance once this credit is applied.")
    counterparty_account_id: UUID
    description: Description = ""


class AccountDebitedV1(DomainEvent):
    """Money left the account as one leg of a posted transfer.

    v1: no value date; it counts from when it was recorded.
    """

    EVENT_TYPE: ClassVar[str] = "account.debited"
    SCHEMA_VERSION: ClassVar[int] = 1
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"description"})
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ("account_id", "counterparty_account_id")

    account_id: UUID
    transfer_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode
    balance_after: SignedMinorUnits = Field(description="The account's balance once this debit is applied.")
    counterparty_account_id: UUID
    description: Description = ""


class TransferPostedV1(DomainEvent):
    """A one-phase transfer moved money: the source was debited and the destination credited, together.

    v1: no value date; it counts from when it was recorded.
    """

    EVENT_TYPE: ClassVar[str] = "transfer.posted"
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


LEGACY_EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    AccountOpenedV1,
    AccountCreditedV1,
    AccountDebitedV1,
    TransferPostedV1,
)
"""Every legacy model, each still registered so that its data can be decoded."""
