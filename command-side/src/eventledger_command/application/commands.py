"""Commands: what a caller asks the ledger to do (imperative names). Separate from API schemas and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class OpenAccount:
    account_id: UUID
    holder_name: str
    currency: str
    overdraft_limit: int = 0


@dataclass(frozen=True, slots=True)
class FreezeAccount:
    account_id: UUID


@dataclass(frozen=True, slots=True)
class UnfreezeAccount:
    account_id: UUID


@dataclass(frozen=True, slots=True)
class CloseAccount:
    account_id: UUID


@dataclass(frozen=True, slots=True)
class Deposit:
    transfer_id: UUID
    account_id: UUID
    amount: int
    description: str = ""
    value_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class Withdraw:
    transfer_id: UUID
    account_id: UUID
    amount: int
    description: str = ""
    value_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class MakeTransfer:
    transfer_id: UUID
    from_account_id: UUID
    to_account_id: UUID
    amount: int
    description: str = ""
    pending: bool = False
    timeout_seconds: int | None = None
    value_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class PostTransfer:
    transfer_id: UUID


@dataclass(frozen=True, slots=True)
class VoidTransfer:
    transfer_id: UUID


@dataclass(frozen=True, slots=True)
class ExpireTransfer:
    """Issued by the expiry worker for a pending transfer past its deadline."""

    transfer_id: UUID


Command = (
    OpenAccount
    | FreezeAccount
    | UnfreezeAccount
    | CloseAccount
    | Deposit
    | Withdraw
    | MakeTransfer
    | PostTransfer
    | VoidTransfer
    | ExpireTransfer
)
