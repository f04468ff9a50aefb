"""Fixtures for the event-contract tests: one valid sample payload of every registered event model."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from eventledger_events import (
    AccountClosed,
    AccountCredited,
    AccountDebited,
    AccountFrozen,
    AccountHoldPlaced,
    AccountHoldReleased,
    AccountOpened,
    AccountOpenedV1,
    AccountUnfrozen,
    DomainEvent,
    HoldReleaseReason,
    TransferExpired,
    TransferKind,
    TransferPendingCreated,
    TransferPendingPosted,
    TransferPosted,
    TransferVoided,
)

ACCOUNT_ID = UUID("00000000-0000-4000-8000-000000000001")
OTHER_ACCOUNT_ID = UUID("00000000-0000-4000-8000-000000000002")
TRANSFER_ID = UUID("00000000-0000-4000-8000-0000000000f1")
EXPIRES_AT = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _samples() -> list[DomainEvent]:
    movement = {
        "account_id": ACCOUNT_ID,
        "transfer_id": TRANSFER_ID,
        "amount": 1250,
        "currency": "EUR",
        "counterparty_account_id": OTHER_ACCOUNT_ID,
        "description": "rent",
    }
    transfer = {
        "transfer_id": TRANSFER_ID,
        "kind": TransferKind.TRANSFER,
        "from_account_id": ACCOUNT_ID,
        "to_account_id": OTHER_ACCOUNT_ID,
        "amount": 1250,
        "currency": "EUR",
    }
    return [
        AccountOpenedV1(account_id=ACCOUNT_ID, holder_name="Ada", currency="EUR"),
        AccountOpened(account_id=ACCOUNT_ID, holder_name="Ada", currency="EUR", overdraft_limit=500),
        AccountFrozen(account_id=ACCOUNT_ID),
        AccountUnfrozen(account_id=ACCOUNT_ID),
        AccountClosed(account_id=ACCOUNT_ID),
        AccountCredited(**movement, balance_after=1250),
        AccountDebited(**movement, balance_after=-1250),
        AccountHoldPlaced(
            account_id=ACCOUNT_ID, transfer_id=TRANSFER_ID, amount=1250, currency="EUR", expires_at=EXPIRES_AT
        ),
        AccountHoldReleased(
            account_id=ACCOUNT_ID,
            transfer_id=TRANSFER_ID,
            amount=1250,
            currency="EUR",
            reason=HoldReleaseReason.EXPIRED,
        ),
        TransferPosted(**transfer, description="rent"),
        TransferPendingCreated(**transfer, description="", expires_at=EXPIRES_AT),
        TransferPendingPosted(**{key: value for key, value in transfer.items() if key != "kind"}),
        TransferVoided(transfer_id=TRANSFER_ID),
        TransferExpired(transfer_id=TRANSFER_ID),
    ]


@pytest.fixture
def sample_payloads() -> list[DomainEvent]:
    """One valid payload of every registered model, legacy versions included."""
    return _samples()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests taking ``sample_payload`` run once per registered model."""
    if "sample_payload" in metafunc.fixturenames:
        samples = _samples()
        metafunc.parametrize("sample_payload", samples, ids=[sample.full_name() for sample in samples])
