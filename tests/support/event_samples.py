"""One valid sample payload of every registered event model, legacy versions included (contract tests, the
reference-Avro checks)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import eventledger_events as ev

ACCOUNT_ID = UUID("00000000-0000-4000-8000-000000000001")
OTHER_ACCOUNT_ID = UUID("00000000-0000-4000-8000-000000000002")
TRANSFER_ID = UUID("00000000-0000-4000-8000-0000000000f1")
EXPIRES_AT = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def sample_payloads() -> list[ev.DomainEvent]:
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
        "kind": ev.TransferKind.TRANSFER,
        "from_account_id": ACCOUNT_ID,
        "to_account_id": OTHER_ACCOUNT_ID,
        "amount": 1250,
        "currency": "EUR",
    }
    return [
        ev.AccountOpenedV1(account_id=ACCOUNT_ID, holder_name="Ada", currency="EUR"),
        ev.AccountOpened(account_id=ACCOUNT_ID, holder_name="Ada", currency="EUR", overdraft_limit=500),
        ev.AccountFrozen(account_id=ACCOUNT_ID),
        ev.AccountUnfrozen(account_id=ACCOUNT_ID),
        ev.AccountClosed(account_id=ACCOUNT_ID),
        ev.AccountCredited(**movement, balance_after=1250),
        ev.AccountDebited(**movement, balance_after=-1250),
        ev.AccountHoldPlaced(
            account_id=ACCOUNT_ID, transfer_id=TRANSFER_ID, amount=1250, currency="EUR", expires_at=EXPIRES_AT
        ),
        ev.AccountHoldReleased(
            account_id=ACCOUNT_ID,
            transfer_id=TRANSFER_ID,
            amount=1250,
            currency="EUR",
            reason=ev.HoldReleaseReason.EXPIRED,
        ),
        ev.AccountPersonalDataErased(
            account_id=ACCOUNT_ID,
            key_id="0123456789abcdef0123456789abcdef",
            erased_by="admin-client",
            reason="the holder asked to be forgotten",
            erased_at=EXPIRES_AT,
        ),
        ev.TransferPosted(**transfer, description="rent"),
        ev.TransferPendingCreated(**transfer, description="", expires_at=EXPIRES_AT),
        ev.TransferPendingPosted(**{key: value for key, value in transfer.items() if key != "kind"}),
        ev.TransferVoided(transfer_id=TRANSFER_ID),
        ev.TransferExpired(transfer_id=TRANSFER_ID),
    ]
