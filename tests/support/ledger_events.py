"""Valid ledger events (real contract payloads) for tests below the domain: store, relay, projections."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventledger_command.eventstore.envelopes import to_new_event
from eventledger_command.eventstore.records import NewEvent, StreamWrite
from eventledger_events import AccountCredited, AccountOpened, EventEnvelope, EventMetadata, account_stream_id

METADATA = EventMetadata(actor="tester", correlation_id=uuid.UUID(int=1))


def _event(payload: AccountOpened | AccountCredited, account_id: uuid.UUID, version: int) -> NewEvent:
    envelope = EventEnvelope.new(
        payload,
        event_id=uuid.uuid4(),
        stream_id=account_stream_id(account_id),
        stream_version=version,
        occurred_at=datetime.now(UTC),
        metadata=METADATA,
    )
    return to_new_event(envelope)


def open_account(account_id: uuid.UUID) -> StreamWrite:
    payload = AccountOpened(account_id=account_id, holder_name="Ada Lovelace", currency="EUR", overdraft_limit=0)
    return StreamWrite(account_stream_id(account_id), 0, (_event(payload, account_id, 1),))


def credit(account_id: uuid.UUID, version: int, amount: int = 100, balance_after: int = 100) -> StreamWrite:
    """A credit appended at stream version ``version + 1`` (expected version ``version``)."""
    payload = AccountCredited(
        account_id=account_id,
        transfer_id=uuid.uuid4(),
        amount=amount,
        currency="EUR",
        balance_after=balance_after,
        counterparty_account_id=uuid.UUID(int=0),
        description=f"credit {version}",
    )
    return StreamWrite(account_stream_id(account_id), version, (_event(payload, account_id, version + 1),))
