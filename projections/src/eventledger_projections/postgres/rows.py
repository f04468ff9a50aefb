"""The rows of the PostgreSQL read model, as Python values (separate from events and from API schemas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(slots=True)
class AccountRow:
    """An account as of stream ``version`` (event at global ``position``). ``available`` is derived."""

    account_id: UUID
    holder_name: str
    currency: str
    status: str
    balance: int
    overdraft_limit: int
    held: int
    version: int
    position: int
    opened_at: datetime
    updated_at: datetime

    @property
    def available(self) -> int:
        return self.balance + self.overdraft_limit - self.held


@dataclass(slots=True)
class EntryRow:
    """One statement line: a credit (``amount`` > 0) or a debit (``amount`` < 0) of ``account_id``."""

    account_id: UUID
    position: int
    transfer_id: UUID
    amount: int
    balance_after: int
    description: str
    posted_at: datetime
    event_id: UUID
    counterparty_account_id: UUID | None = None
    """Not stored: the other party, whose erasure masks this line's description too."""


@dataclass(slots=True)
class TransferRow:
    """A transfer as of stream ``version``; ``position`` is that of the last event applied to it."""

    transfer_id: UUID
    kind: str
    from_account_id: UUID
    to_account_id: UUID
    amount: int
    currency: str
    status: str
    description: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    version: int
    position: int
