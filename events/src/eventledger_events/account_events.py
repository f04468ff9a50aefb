"""Events of the ``account`` stream category (current schema versions).

Every account event carries ``account_id``; money movements also carry the transfer that caused them, the
amount in minor units, and the account's currency, so each message is meaningful on its own to an analyst.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from eventledger_events.base import DomainEvent
from eventledger_events.values import (
    Backdated,
    CurrencyCode,
    Description,
    ErasureReason,
    HolderName,
    NonNegativeMinorUnits,
    PositiveMinorUnits,
    SignedMinorUnits,
    StorableText,
    UtcDateTime,
    ValueDate,
)


class HoldReleaseReason(StrEnum):
    """Why a hold stopped reducing the available amount."""

    VOIDED = "voided"
    EXPIRED = "expired"
    POSTED = "posted"


class AccountOpened(DomainEvent):
    """An account was opened. Its currency never changes afterwards.

    v2 added ``overdraft_limit``; v1 events are upcast with ``overdraft_limit = 0``.
    """

    EVENT_TYPE: ClassVar[str] = "account.opened"
    SCHEMA_VERSION: ClassVar[int] = 2
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"holder_name"})
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ("account_id",)

    account_id: UUID
    holder_name: HolderName
    currency: CurrencyCode
    overdraft_limit: NonNegativeMinorUnits = Field(
        default=0,
        description="How far below zero the balance may go, in minor units.",
    )


class AccountFrozen(DomainEvent):
    """The account was frozen: no debits and no new holds until it is unfrozen; credits still allowed."""

    EVENT_TYPE: ClassVar[str] = "account.frozen"
    SCHEMA_VERSION: ClassVar[int] = 1

    account_id: UUID


class AccountUnfrozen(DomainEvent):
    """A frozen account was opened again for every movement."""

    EVENT_TYPE: ClassVar[str] = "account.unfrozen"
    SCHEMA_VERSION: ClassVar[int] = 1

    account_id: UUID


class AccountClosed(DomainEvent):
    """The account was closed (balance 0, no open holds): no movement at all from now on."""

    EVENT_TYPE: ClassVar[str] = "account.closed"
    SCHEMA_VERSION: ClassVar[int] = 1

    account_id: UUID


class AccountCredited(DomainEvent):
    """Money arrived on the account as one leg of a posted transfer.

    ``balance_after`` is the account's balance once this credit is applied; ``counterparty_account_id`` is the
    other leg's account (the currency's external account for a deposit).

    v2 added the value date (``value_date``: when the money counts; ``None`` for v1 events, which count from when
    they were recorded) and ``backdated``; v1 events are upcast with ``None`` and ``False``.
    """

    EVENT_TYPE: ClassVar[str] = "account.credited"
    SCHEMA_VERSION: ClassVar[int] = 2
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"description"})
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ("account_id", "counterparty_account_id")

    account_id: UUID
    transfer_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode
    balance_after: SignedMinorUnits = Field(description="The account's balance once this credit is applied.")
    counterparty_account_id: UUID
    description: Description = ""
    value_date: ValueDate = None
    backdated: Backdated = False


class AccountDebited(DomainEvent):
    """Money left the account as one leg of a posted transfer.

    ``balance_after`` is the account's balance once this debit is applied; ``counterparty_account_id`` is the
    other leg's account (the currency's external account for a withdrawal).

    v2 added ``value_date`` and ``backdated`` (see :class:`AccountCredited`).
    """

    EVENT_TYPE: ClassVar[str] = "account.debited"
    SCHEMA_VERSION: ClassVar[int] = 2
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"description"})
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ("account_id", "counterparty_account_id")

    account_id: UUID
    transfer_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode
    balance_after: SignedMinorUnits = Field(description="The account's balance once this debit is applied.")
    counterparty_account_id: UUID
    description: Description = ""
    value_date: ValueDate = None
    backdated: Backdated = False


class AccountHoldPlaced(DomainEvent):
    """A pending transfer reserved an amount: it reduces ``available`` until released."""

    EVENT_TYPE: ClassVar[str] = "account.hold_placed"
    SCHEMA_VERSION: ClassVar[int] = 1

    account_id: UUID
    transfer_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode
    expires_at: UtcDateTime = Field(description="When the pending transfer expires if not posted or voided.")


class AccountHoldReleased(DomainEvent):
    """A hold stopped reducing ``available``: its transfer was voided, expired, or posted.

    When ``reason`` is ``posted`` an ``account.debited`` of the same transfer follows in the same append.
    """

    EVENT_TYPE: ClassVar[str] = "account.hold_released"
    SCHEMA_VERSION: ClassVar[int] = 1

    account_id: UUID
    transfer_id: UUID
    amount: PositiveMinorUnits
    currency: CurrencyCode
    reason: HoldReleaseReason


class AccountPersonalDataErased(DomainEvent):
    """The holder's personal data was erased (crypto-shredding): the data key that sealed the account's personal
    fields (``key_id``) was destroyed, so none of them opens any more; readers show them as erased.

    Recorded after the key is destroyed; it carries no personal data itself: who erased (the authenticated client),
    when, and why.
    """

    EVENT_TYPE: ClassVar[str] = "account.personal_data_erased"
    SCHEMA_VERSION: ClassVar[int] = 1

    account_id: UUID
    key_id: str = Field(
        pattern=r"^[0-9a-f]{32}$", description="The id of the destroyed data key (32 lowercase hex digits)."
    )
    erased_by: StorableText = Field(min_length=1, max_length=200, description="Who erased: the authenticated client.")
    reason: ErasureReason
    erased_at: UtcDateTime = Field(description="When the data key was destroyed.")


AccountEvent = (
    AccountOpened
    | AccountFrozen
    | AccountUnfrozen
    | AccountClosed
    | AccountCredited
    | AccountDebited
    | AccountHoldPlaced
    | AccountHoldReleased
    | AccountPersonalDataErased
)
"""Every current-version event of an account stream."""

ACCOUNT_EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    AccountOpened,
    AccountFrozen,
    AccountUnfrozen,
    AccountClosed,
    AccountCredited,
    AccountDebited,
    AccountHoldPlaced,
    AccountHoldReleased,
    AccountPersonalDataErased,
)
"""The current-version account event models, in a stable order."""
