"""Snapshots: aggregate states as plain JSON-ready dicts, and back, for the event store's snapshot table.

Each snapshot carries ``snapshot_version``. When a state's shape changes, bump the version: a loader meeting an
older snapshot gets ``SnapshotVersionError`` and must rebuild the state by replaying the stream instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from uuid import UUID

from eventledger_command.domain.account import Account, AccountStatus, Hold
from eventledger_command.domain.transfer import Transfer, TransferStatus
from eventledger_events.transfer_events import TransferKind

ACCOUNT_SNAPSHOT_VERSION = 2
"""2 added ``erased``."""
TRANSFER_SNAPSHOT_VERSION = 1

Snapshot = dict[str, Any]
"""A JSON-ready dict: only str, int, None, lists and dicts."""


class SnapshotVersionError(ValueError):
    """The snapshot was taken with another state shape: replay the stream instead of using it."""


def account_to_snapshot(account: Account) -> Snapshot:
    """The account's state as a JSON-ready dict."""
    return {
        "snapshot_version": ACCOUNT_SNAPSHOT_VERSION,
        "account_id": str(account.account_id),
        "holder_name": account.holder_name,
        "currency": account.currency,
        "overdraft_limit": account.overdraft_limit,
        "status": account.status.value,
        "balance": account.balance,
        "erased": account.erased,
        "holds": [
            {
                "transfer_id": str(hold.transfer_id),
                "amount": hold.amount,
                "expires_at": hold.expires_at.isoformat(),
            }
            for hold in account.holds.values()
        ],
    }


def account_from_snapshot(snapshot: Mapping[str, Any]) -> Account:
    """The account state a snapshot recorded."""
    _require_version(snapshot, ACCOUNT_SNAPSHOT_VERSION)
    holds = (
        Hold(
            transfer_id=UUID(hold["transfer_id"]),
            amount=int(hold["amount"]),
            expires_at=datetime.fromisoformat(hold["expires_at"]),
        )
        for hold in snapshot["holds"]
    )
    return Account(
        account_id=UUID(snapshot["account_id"]),
        holder_name=str(snapshot["holder_name"]),
        currency=str(snapshot["currency"]),
        overdraft_limit=int(snapshot["overdraft_limit"]),
        status=AccountStatus(snapshot["status"]),
        balance=int(snapshot["balance"]),
        holds=MappingProxyType({hold.transfer_id: hold for hold in holds}),
        erased=bool(snapshot["erased"]),
    )


def transfer_to_snapshot(transfer: Transfer) -> Snapshot:
    """The transfer's state as a JSON-ready dict."""
    return {
        "snapshot_version": TRANSFER_SNAPSHOT_VERSION,
        "transfer_id": str(transfer.transfer_id),
        "kind": transfer.kind.value,
        "from_account_id": str(transfer.from_account_id),
        "to_account_id": str(transfer.to_account_id),
        "amount": transfer.amount,
        "currency": transfer.currency,
        "description": transfer.description,
        "status": transfer.status.value,
        "expires_at": transfer.expires_at.isoformat() if transfer.expires_at is not None else None,
    }


def transfer_from_snapshot(snapshot: Mapping[str, Any]) -> Transfer:
    """The transfer state a snapshot recorded."""
    _require_version(snapshot, TRANSFER_SNAPSHOT_VERSION)
    expires_at = snapshot["expires_at"]
    return Transfer(
        transfer_id=UUID(snapshot["transfer_id"]),
        kind=TransferKind(snapshot["kind"]),
        from_account_id=UUID(snapshot["from_account_id"]),
        to_account_id=UUID(snapshot["to_account_id"]),
        amount=int(snapshot["amount"]),
        currency=str(snapshot["currency"]),
        description=str(snapshot["description"]),
        status=TransferStatus(snapshot["status"]),
        expires_at=datetime.fromisoformat(expires_at) if expires_at is not None else None,
    )


def _require_version(snapshot: Mapping[str, Any], expected: int) -> None:
    version = snapshot.get("snapshot_version")
    if version != expected:
        raise SnapshotVersionError(f"snapshot version {version!r}, this code reads {expected}")
