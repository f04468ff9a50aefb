"""Older schema versions still readable from the event store and from Kafka.

A legacy model is frozen in time: never edit it (its published ``.avsc`` must keep matching it). Data written
at its version is validated with it, then upcast to the current version (see ``upcasters``).
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventledger_events.base import DomainEvent
from eventledger_events.values import CurrencyCode, HolderName


class AccountOpenedV1(DomainEvent):
    """An account was opened (v1: no overdraft limit; it is read as 0)."""

    EVENT_TYPE: ClassVar[str] = "account.opened"
    SCHEMA_VERSION: ClassVar[int] = 1

    account_id: UUID
    holder_name: HolderName
    currency: CurrencyCode


LEGACY_EVENT_TYPES: tuple[type[DomainEvent], ...] = (AccountOpenedV1,)
"""Every legacy model, each still registered so that its data can be decoded."""
