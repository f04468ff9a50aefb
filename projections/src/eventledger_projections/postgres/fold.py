"""Folding events onto read-model rows: pure, no I/O. The writer loads the rows a batch touches, folds the batch,
and writes back what changed.

Idempotence rule: an event whose ``stream_version`` is not above the row's ``version`` is skipped, so an event
applied twice, or an older event after a newer one of the same stream, changes nothing. Balances are taken from
the events (``balance_after``), never accumulated; holds are accumulated, once per stream version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from uuid import UUID

import eventledger_events as ev
from eventledger_events.personal import ERASED
from eventledger_projections.postgres.rows import AccountRow, EntryRow, TransferRow

_ACCOUNT_STATUS = {ev.AccountFrozen: "frozen", ev.AccountUnfrozen: "open", ev.AccountClosed: "closed"}
_TRANSFER_EVENTS = (
    ev.TransferPosted,
    ev.TransferPendingCreated,
    ev.TransferPendingPosted,
    ev.TransferVoided,
    ev.TransferExpired,
)
_CREATIONS = (ev.AccountOpened, ev.TransferPosted, ev.TransferPendingCreated)
Row = TypeVar("Row", AccountRow, TransferRow)
_TRANSFER_STATUS = {ev.TransferPendingPosted: "posted", ev.TransferVoided: "voided", ev.TransferExpired: "expired"}


class UnappliableEvent(Exception):
    """The event cannot be applied to this read model (a movement on an account it never saw opened, an unknown
    event type): a poison event, which the runner parks in the dead-letter topic."""


class ReadModelFold:
    """Rows keyed by id, the events folded onto them, and what changed."""

    def __init__(self, accounts: dict[UUID, AccountRow], transfers: dict[UUID, TransferRow]) -> None:
        self.accounts = accounts
        self.transfers = transfers
        self.changed_accounts: set[UUID] = set()
        self.changed_transfers: set[UUID] = set()
        self.entries: list[EntryRow] = []
        self.erased: list[UUID] = []
        """Accounts whose personal data an ``account.personal_data_erased`` of the batch erased (the writer masks
        every row that holds it: docs/adr/0035-key-handling-for-personal-data.md)."""

    def apply(self, envelope: ev.EventEnvelope) -> bool:
        """Fold one event; False when the version guard skipped it."""
        payload = envelope.payload
        if isinstance(payload, _TRANSFER_EVENTS):
            return self._guarded(envelope, payload.transfer_id, self.transfers, self._transfer, self.changed_transfers)
        account_id = getattr(payload, "account_id", None)
        if not isinstance(account_id, UUID):
            raise UnappliableEvent(f"{envelope.full_event_type} is not an event of this read model")
        return self._guarded(envelope, account_id, self.accounts, self._account, self.changed_accounts)

    def _guarded(
        self,
        envelope: ev.EventEnvelope,
        key: UUID,
        rows: dict[UUID, Row],
        fold: Callable[[ev.EventEnvelope, int, UUID, Row | None], None],
        changed: set[UUID],
    ) -> bool:
        """The version guard, then ``fold`` the event onto its row (or create the row), which is then changed."""
        position = _position(envelope)
        row = rows.get(key)
        if row is not None and envelope.stream_version <= row.version:
            return False
        fold(envelope, position, key, row)
        changed.add(key)
        return True

    # ------------------------------------------------------------------ accounts
    def _account(self, envelope: ev.EventEnvelope, position: int, account_id: UUID, row: AccountRow | None) -> None:
        payload = envelope.payload
        if isinstance(payload, ev.AccountOpened):
            self.accounts[account_id] = AccountRow(
                account_id=account_id,
                holder_name=payload.holder_name,
                currency=payload.currency,
                status="open",
                balance=0,
                overdraft_limit=payload.overdraft_limit,
                held=0,
                version=envelope.stream_version,
                position=position,
                opened_at=envelope.occurred_at,
                updated_at=envelope.occurred_at,
            )
            return
        if row is None:
            raise UnappliableEvent(f"{envelope.full_event_type} for account {account_id}, never seen opened")
        if isinstance(payload, ev.AccountFrozen | ev.AccountUnfrozen | ev.AccountClosed):
            row.status = _ACCOUNT_STATUS[type(payload)]
        elif isinstance(payload, ev.AccountCredited | ev.AccountDebited):
            signed = payload.amount if isinstance(payload, ev.AccountCredited) else -payload.amount
            row.balance = payload.balance_after
            self.entries.append(
                EntryRow(
                    account_id=account_id,
                    position=position,
                    transfer_id=payload.transfer_id,
                    amount=signed,
                    balance_after=payload.balance_after,
                    description=payload.description,
                    posted_at=envelope.occurred_at,
                    event_id=envelope.event_id,
                    counterparty_account_id=payload.counterparty_account_id,
                )
            )
        elif isinstance(payload, ev.AccountPersonalDataErased):
            row.holder_name = ERASED
            self.erased.append(account_id)
        elif isinstance(payload, ev.AccountHoldPlaced):
            row.held += payload.amount
        elif isinstance(payload, ev.AccountHoldReleased):
            row.held -= payload.amount
        else:
            raise UnappliableEvent(f"{envelope.full_event_type} is not an account event this read model knows")
        _advance(row, envelope, position)

    # ------------------------------------------------------------------ transfers
    def _transfer(self, envelope: ev.EventEnvelope, position: int, transfer_id: UUID, row: TransferRow | None) -> None:
        payload = envelope.payload
        if isinstance(payload, ev.TransferPosted | ev.TransferPendingCreated):
            pending = isinstance(payload, ev.TransferPendingCreated)
            self.transfers[transfer_id] = TransferRow(
                transfer_id=transfer_id,
                kind=payload.kind.value,
                from_account_id=payload.from_account_id,
                to_account_id=payload.to_account_id,
                amount=payload.amount,
                currency=payload.currency,
                status="pending" if pending else "posted",
                description=payload.description,
                created_at=envelope.occurred_at,
                updated_at=envelope.occurred_at,
                expires_at=payload.expires_at if isinstance(payload, ev.TransferPendingCreated) else None,
                version=envelope.stream_version,
                position=position,
            )
            return
        if row is None:
            raise UnappliableEvent(f"{envelope.full_event_type} for transfer {transfer_id}, never seen created")
        status = _TRANSFER_STATUS.get(type(payload))
        if status is None:
            raise UnappliableEvent(f"{envelope.full_event_type} is not a transfer event this read model knows")
        row.status = status
        _advance(row, envelope, position)


def rows_to_load(envelopes: Sequence[ev.EventEnvelope]) -> tuple[set[UUID], set[UUID]]:
    """The account ids and transfer ids whose stored rows the fold needs: those a batch touches, except the ones
    the batch itself creates (folded from their first event, they need nothing stored; the upsert's version guard
    keeps a stored row that is already further along)."""
    accounts: set[UUID] = set()
    transfers: set[UUID] = set()
    created: set[UUID] = set()
    for envelope in envelopes:
        payload = envelope.payload
        if isinstance(payload, _CREATIONS):
            created.add(payload.account_id if isinstance(payload, ev.AccountOpened) else payload.transfer_id)
        elif isinstance(payload, _TRANSFER_EVENTS):
            if payload.transfer_id not in created:
                transfers.add(payload.transfer_id)
        else:
            account_id = getattr(payload, "account_id", None)
            if isinstance(account_id, UUID) and account_id not in created:
                accounts.add(account_id)
    return accounts, transfers


def _advance(row: AccountRow | TransferRow, envelope: ev.EventEnvelope, position: int) -> None:
    row.version = envelope.stream_version
    row.position = position
    row.updated_at = envelope.occurred_at


def _position(envelope: ev.EventEnvelope) -> int:
    if envelope.position is None:
        raise UnappliableEvent(f"event {envelope.event_id} has no global position")
    return envelope.position
