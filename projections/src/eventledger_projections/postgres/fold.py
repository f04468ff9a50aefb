"""Folding events onto read-model rows: pure, no I/O. The writer loads the rows a batch touches, folds the batch,
and writes back what changed.

The fold reads a :class:`Fact`: an event's type, stream version, position, occurred-at, id and payload fields by
name. A fact comes from a validated envelope (:func:`fact_of_envelope`: any schema version, upcast), or, for an
event of the *current* schema version of its type, straight from its Avro record (:func:`fact_of_record`, the live
path: ADR 0037, ADR 0039) or its stored JSON (:func:`fact_of_row`, the rebuild), without building a payload model:
ids there are UUID text and instants ISO text, which the fold converts where it keeps them. All three give the same
rows for the same event.

Idempotence rule: an event whose ``stream_version`` is not above the row's ``version`` is skipped, so an event
applied twice, or an older event after a newer one of the same stream, changes nothing. Balances are taken from
the events (``balance_after``), never accumulated; holds are accumulated, once per stream version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import orjson

import eventledger_events as ev
from eventledger_events.personal import ERASED
from eventledger_projections.postgres.rows import AccountRow, EntryRow, TransferRow
from eventledger_runtime.eventlog import LoggedEvent
from eventledger_runtime.personal.opener import Opener, PersonalDataOpener, unopened

_OPENED = ev.AccountOpened.EVENT_TYPE
_ACCOUNT_STATUS = {
    ev.AccountFrozen.EVENT_TYPE: "frozen",
    ev.AccountUnfrozen.EVENT_TYPE: "open",
    ev.AccountClosed.EVENT_TYPE: "closed",
}
_CREDITED = ev.AccountCredited.EVENT_TYPE
_DEBITED = ev.AccountDebited.EVENT_TYPE
_ERASED = ev.AccountPersonalDataErased.EVENT_TYPE
_HOLD_PLACED = ev.AccountHoldPlaced.EVENT_TYPE
_HOLD_RELEASED = ev.AccountHoldReleased.EVENT_TYPE
_PENDING_CREATED = ev.TransferPendingCreated.EVENT_TYPE
_TRANSFER_CREATIONS = frozenset({ev.TransferPosted.EVENT_TYPE, _PENDING_CREATED})
_TRANSFER_STATUS = {
    ev.TransferPendingPosted.EVENT_TYPE: "posted",
    ev.TransferVoided.EVENT_TYPE: "voided",
    ev.TransferExpired.EVENT_TYPE: "expired",
}
_TRANSFER_EVENTS = _TRANSFER_CREATIONS | frozenset(_TRANSFER_STATUS)
Row = TypeVar("Row", AccountRow, TransferRow)


@dataclass(frozen=True, slots=True)
class Fact:
    """One event as the fold reads it. ``data`` holds the payload's fields of the current schema version by name:
    ids as :class:`~uuid.UUID` or their text, instants as datetimes or ISO text."""

    event_type: str
    stream_version: int
    position: int | None
    occurred_at: datetime
    event_id: UUID
    data: Mapping[str, Any]


def fact_of_envelope(envelope: ev.EventEnvelope) -> Fact:
    """The fact of a validated envelope (its payload upcast to the current version)."""
    return Fact(
        envelope.event_type,
        envelope.stream_version,
        envelope.position,
        envelope.occurred_at,
        envelope.event_id,
        vars(envelope.payload),
    )


def fact_of_record(record: ev.EventRecord) -> Fact:
    """The fact of an event of the current schema version read as far as its Avro record (its personal fields
    already opened by the runtime's decoding module)."""
    return Fact(
        record.event_type,
        record.stream_version,
        record.position,
        datetime.fromisoformat(record.occurred_at),
        UUID(record.event_id),
        record.record,
    )


def fact_of_row(event: LoggedEvent, opener: Opener = unopened) -> Fact:
    """The fact of a stored event, its personal fields opened with ``opener``: an event of the current schema
    version from its JSON (validated when it was appended: the trust of ``redis/pages.py``), an older one through
    its validated, upcast envelope."""
    if event.schema_version != ev.current_version(event.event_type):
        return fact_of_envelope(opener(event.envelope()))
    data = orjson.loads(event.payload)
    if isinstance(opener, PersonalDataOpener):
        data = opener.open_data(event.event_type, event.schema_version, data)
    return Fact(event.event_type, event.stream_version, event.position, event.occurred_at, event.event_id, data)


def _fact(event: Fact | ev.EventEnvelope) -> Fact:
    return event if isinstance(event, Fact) else fact_of_envelope(event)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _optional_uuid(value: Any) -> UUID | None:
    return None if value is None else _uuid(value)


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


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

    def apply(self, event: Fact | ev.EventEnvelope) -> bool:
        """Fold one event; False when the version guard skipped it."""
        fact = _fact(event)
        if fact.event_type in _TRANSFER_EVENTS:
            key = _uuid(fact.data["transfer_id"])
            return self._guarded(fact, key, self.transfers, self._transfer, self.changed_transfers)
        account_id = fact.data.get("account_id")
        if account_id is None:
            raise UnappliableEvent(f"{fact.event_type} is not an event of this read model")
        return self._guarded(fact, _uuid(account_id), self.accounts, self._account, self.changed_accounts)

    def _guarded(
        self,
        fact: Fact,
        key: UUID,
        rows: dict[UUID, Row],
        fold: Callable[[Fact, int, UUID, Row | None], None],
        changed: set[UUID],
    ) -> bool:
        """The version guard, then ``fold`` the event onto its row (or create the row), which is then changed."""
        position = _position(fact)
        row = rows.get(key)
        if row is not None and fact.stream_version <= row.version:
            return False
        fold(fact, position, key, row)
        changed.add(key)
        return True

    # ------------------------------------------------------------------ accounts
    def _account(self, fact: Fact, position: int, account_id: UUID, row: AccountRow | None) -> None:
        data, kind = fact.data, fact.event_type
        if kind == _OPENED:
            self.accounts[account_id] = AccountRow(
                account_id=account_id,
                holder_name=data["holder_name"],
                currency=data["currency"],
                status="open",
                balance=0,
                overdraft_limit=data["overdraft_limit"],
                held=0,
                version=fact.stream_version,
                position=position,
                opened_at=fact.occurred_at,
                updated_at=fact.occurred_at,
            )
            return
        if row is None:
            raise UnappliableEvent(f"{kind} for account {account_id}, never seen opened")
        if kind in _ACCOUNT_STATUS:
            row.status = _ACCOUNT_STATUS[kind]
        elif kind in {_CREDITED, _DEBITED}:
            amount = data["amount"]
            row.balance = data["balance_after"]
            self.entries.append(
                EntryRow(
                    account_id=account_id,
                    position=position,
                    transfer_id=_uuid(data["transfer_id"]),
                    amount=amount if kind == _CREDITED else -amount,
                    balance_after=data["balance_after"],
                    description=data["description"],
                    posted_at=fact.occurred_at,
                    event_id=fact.event_id,
                    counterparty_account_id=_optional_uuid(data.get("counterparty_account_id")),
                )
            )
        elif kind == _ERASED:
            row.holder_name = ERASED
            self.erased.append(account_id)
        elif kind == _HOLD_PLACED:
            row.held += data["amount"]
        elif kind == _HOLD_RELEASED:
            row.held -= data["amount"]
        else:
            raise UnappliableEvent(f"{kind} is not an account event this read model knows")
        _advance(row, fact, position)

    # ------------------------------------------------------------------ transfers
    def _transfer(self, fact: Fact, position: int, transfer_id: UUID, row: TransferRow | None) -> None:
        data, kind = fact.data, fact.event_type
        if kind in _TRANSFER_CREATIONS:
            transfer_kind = data["kind"]
            self.transfers[transfer_id] = TransferRow(
                transfer_id=transfer_id,
                kind=getattr(transfer_kind, "value", transfer_kind),
                from_account_id=_uuid(data["from_account_id"]),
                to_account_id=_uuid(data["to_account_id"]),
                amount=data["amount"],
                currency=data["currency"],
                status="pending" if kind == _PENDING_CREATED else "posted",
                description=data["description"],
                created_at=fact.occurred_at,
                updated_at=fact.occurred_at,
                expires_at=_instant(data["expires_at"]) if kind == _PENDING_CREATED else None,
                version=fact.stream_version,
                position=position,
            )
            return
        if row is None:
            raise UnappliableEvent(f"{kind} for transfer {transfer_id}, never seen created")
        row.status = _TRANSFER_STATUS[kind]
        _advance(row, fact, position)


def rows_to_load(events: Sequence[Fact | ev.EventEnvelope]) -> tuple[set[UUID], set[UUID]]:
    """The account ids and transfer ids whose stored rows the fold needs: those a batch touches, except the ones
    the batch itself creates (folded from their first event, they need nothing stored; the upsert's version guard
    keeps a stored row that is already further along)."""
    accounts: set[UUID] = set()
    transfers: set[UUID] = set()
    created: set[UUID] = set()
    for event in events:
        fact = _fact(event)
        kind, data = fact.event_type, fact.data
        if kind == _OPENED:
            created.add(_uuid(data["account_id"]))
        elif kind in _TRANSFER_CREATIONS:
            created.add(_uuid(data["transfer_id"]))
        elif kind in _TRANSFER_EVENTS:
            transfer_id = _uuid(data["transfer_id"])
            if transfer_id not in created:
                transfers.add(transfer_id)
        else:
            account_id = data.get("account_id")
            if account_id is not None and (account := _uuid(account_id)) not in created:
                accounts.add(account)
    return accounts, transfers


def erased_accounts(events: Sequence[Fact]) -> list[UUID]:
    """The accounts an ``account.personal_data_erased`` of ``events`` erased."""
    return [_uuid(fact.data["account_id"]) for fact in events if fact.event_type == _ERASED]


def _advance(row: AccountRow | TransferRow, fact: Fact, position: int) -> None:
    row.version = fact.stream_version
    row.position = position
    row.updated_at = fact.occurred_at


def _position(fact: Fact) -> int:
    if fact.position is None:
        raise UnappliableEvent(f"event {fact.event_id} has no global position")
    return fact.position
