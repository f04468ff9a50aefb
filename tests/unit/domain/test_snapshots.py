"""Snapshots: every state becomes a JSON-ready dict and comes back equal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from uuid import UUID, uuid5

import pytest

from eventledger_command.domain import (
    Account,
    AccountStatus,
    Hold,
    SnapshotVersionError,
    Transfer,
    TransferStatus,
    account_from_snapshot,
    account_to_snapshot,
    transfer_from_snapshot,
    transfer_to_snapshot,
)
from eventledger_events import TransferKind

pytestmark = pytest.mark.unit

_NS = UUID("0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b")
EXPIRES = datetime(2030, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _account() -> Account:
    holds = {
        uuid5(_NS, name): Hold(
            transfer_id=uuid5(_NS, name), amount=amount, expires_at=EXPIRES + timedelta(minutes=amount)
        )
        for name, amount in [("h1", 10), ("h2", 25)]
    }
    return Account(
        account_id=uuid5(_NS, "account"),
        holder_name="Ada",
        currency="EUR",
        overdraft_limit=300,
        status=AccountStatus.FROZEN,
        balance=-120,
        holds=MappingProxyType(holds),
    )


def _transfer(expires_at: datetime | None) -> Transfer:
    return Transfer(
        transfer_id=uuid5(_NS, "transfer"),
        kind=TransferKind.WITHDRAWAL,
        from_account_id=uuid5(_NS, "a"),
        to_account_id=uuid5(_NS, "b"),
        amount=99,
        currency="JPY",
        description="ramen",
        status=TransferStatus.PENDING if expires_at else TransferStatus.POSTED,
        expires_at=expires_at,
    )


def test_an_account_round_trips_through_json() -> None:
    account = _account()
    snapshot = json.loads(json.dumps(account_to_snapshot(account)))
    restored = account_from_snapshot(snapshot)
    assert restored == account
    assert restored.available == account.available


def test_an_empty_account_round_trips() -> None:
    account = Account(account_id=uuid5(_NS, "empty"), holder_name="B", currency="USD", overdraft_limit=0)
    assert account_from_snapshot(account_to_snapshot(account)) == account


def test_an_erased_account_round_trips_and_a_snapshot_from_before_the_flag_is_refused() -> None:
    account = replace(_account(), erased=True)
    assert account_from_snapshot(json.loads(json.dumps(account_to_snapshot(account)))) == account
    older = account_to_snapshot(_account())
    older["snapshot_version"] = 1
    del older["erased"]
    with pytest.raises(SnapshotVersionError):
        account_from_snapshot(older)


@pytest.mark.parametrize("expires_at", [EXPIRES, None])
def test_a_transfer_round_trips_through_json(expires_at: datetime | None) -> None:
    transfer = _transfer(expires_at)
    assert transfer_from_snapshot(json.loads(json.dumps(transfer_to_snapshot(transfer)))) == transfer


def test_a_snapshot_of_another_shape_is_refused() -> None:
    snapshot = account_to_snapshot(_account())
    snapshot["snapshot_version"] = 0
    with pytest.raises(SnapshotVersionError):
        account_from_snapshot(snapshot)
    transfer_snapshot = transfer_to_snapshot(_transfer(None))
    del transfer_snapshot["snapshot_version"]
    with pytest.raises(SnapshotVersionError):
        transfer_from_snapshot(transfer_snapshot)
