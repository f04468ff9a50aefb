"""Transfer documents: folding a transfer's events into its state, and the state into a versioned document.

Pure: no I/O. The rules (the same as the PostgreSQL read model's ``transfers`` table):

- ``transfer.posted`` and ``transfer.pending_created`` create the state (``posted`` / ``pending``);
  ``transfer.pending_posted``, ``transfer.voided`` and ``transfer.expired`` settle it (``posted`` / ``voided`` /
  ``expired``); ``created_at`` is the creating event's ``occurred_at``, ``updated_at`` the last event's, and
  ``position`` the last event's global position.
- An event whose ``stream_version`` is not above the state's is skipped (a redelivery, or an older event).

The Elasticsearch *external version* of a document is ``stream_version * 4 + names`` where ``names`` has bit 1 set
when the source holder's name is in the document and bit 2 for the destination's. So a later event always wins over
an earlier one, a redelivered event is refused as a version conflict, and for one stream version a document that
knows more names wins over one that knows fewer (docs/adr/0011-elasticsearch-read-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventledger_events import (
    EventEnvelope,
    TransferExpired,
    TransferPendingCreated,
    TransferPendingPosted,
    TransferPosted,
    TransferVoided,
)
from eventledger_events.personal import ERASED

VERSION_STRIDE = 4
FROM_NAME_KNOWN = 1
TO_NAME_KNOWN = 2

_SETTLED = {TransferPendingPosted: "posted", TransferVoided: "voided", TransferExpired: "expired"}


class UnappliableEvent(Exception):
    """The event cannot be applied (a settlement of a transfer never seen created, an event without a position):
    a fault of the events, which the runner parks in the dead-letter topic after its retries."""


class UnknownTransfer(UnappliableEvent):
    """A settlement of a transfer the index does not hold (yet: during a version switch it may still arrive)."""


@dataclass(frozen=True, slots=True)
class TransferState:
    """A transfer as of ``stream_version`` (holder names are not part of it: they are looked up at write time)."""

    transfer_id: UUID
    kind: str
    status: str
    from_account_id: UUID
    to_account_id: UUID
    amount: int
    currency: str
    description: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    stream_version: int
    position: int

    @property
    def is_final(self) -> bool:
        """No further event can follow (only a pending transfer has a future)."""
        return self.status != "pending"


def fold(state: TransferState | None, envelope: EventEnvelope) -> TransferState | None:
    """The state after ``envelope``, or None when the event is not newer than ``state`` (nothing to do).

    Raises :class:`UnappliableEvent` for a settlement without a known creation, or an event without position.
    """
    if state is not None and envelope.stream_version <= state.stream_version:
        return None
    if envelope.position is None:
        raise UnappliableEvent(f"event {envelope.event_id} has no global position")
    payload = envelope.payload
    if isinstance(payload, TransferPosted | TransferPendingCreated):
        pending = isinstance(payload, TransferPendingCreated)
        return TransferState(
            transfer_id=payload.transfer_id,
            kind=payload.kind.value,
            status="pending" if pending else "posted",
            from_account_id=payload.from_account_id,
            to_account_id=payload.to_account_id,
            amount=payload.amount,
            currency=payload.currency,
            description=payload.description,
            created_at=envelope.occurred_at,
            updated_at=envelope.occurred_at,
            expires_at=payload.expires_at if isinstance(payload, TransferPendingCreated) else None,
            stream_version=envelope.stream_version,
            position=envelope.position,
        )
    status = _SETTLED.get(type(payload))
    if status is None:
        raise UnappliableEvent(f"{envelope.full_event_type} is not a transfer event this read model knows")
    if state is None:
        raise UnknownTransfer(f"{envelope.full_event_type} for {envelope.stream_id}, never seen created")
    return replace(
        state,
        status=status,
        updated_at=envelope.occurred_at,
        stream_version=envelope.stream_version,
        position=envelope.position,
    )


@dataclass(frozen=True, slots=True)
class HolderNames:
    """The names known for a transfer's two sides (None: not known yet)."""

    from_name: str | None
    to_name: str | None

    @property
    def bits(self) -> int:
        return (FROM_NAME_KNOWN if self.from_name is not None else 0) | (
            TO_NAME_KNOWN if self.to_name is not None else 0
        )


def document_version(stream_version: int, names: HolderNames) -> int:
    """The external version of the document of ``stream_version`` carrying ``names``."""
    return stream_version * VERSION_STRIDE + names.bits


def to_document(state: TransferState, names: HolderNames) -> dict[str, Any]:
    """The indexed document (field by field the mapping of :mod:`.mappings`)."""
    pending = [
        str(account)
        for account, name in ((state.from_account_id, names.from_name), (state.to_account_id, names.to_name))
        if name is None
    ]
    # A side whose holder is erased masks the description too (it was sealed under both parties' keys, so it
    # would open as [erased] anyway; this covers an event decoded before the key was destroyed).
    erased = ERASED in (names.from_name, names.to_name)
    return {
        "transfer_id": str(state.transfer_id),
        "kind": state.kind,
        "status": state.status,
        "from_account_id": str(state.from_account_id),
        "to_account_id": str(state.to_account_id),
        "from_holder_name": names.from_name,
        "to_holder_name": names.to_name,
        "pending_holders": pending,
        "amount": state.amount,
        "currency": state.currency,
        "description": ERASED if erased else state.description,
        "created_at": state.created_at.isoformat(),
        "updated_at": state.updated_at.isoformat(),
        "expires_at": state.expires_at.isoformat() if state.expires_at is not None else None,
        "stream_version": state.stream_version,
        "position": state.position,
    }


def from_document(source: dict[str, Any]) -> tuple[TransferState, HolderNames]:
    """The state and names a stored document carries (the inverse of :func:`to_document`)."""
    expires_at = source.get("expires_at")
    state = TransferState(
        transfer_id=UUID(source["transfer_id"]),
        kind=source["kind"],
        status=source["status"],
        from_account_id=UUID(source["from_account_id"]),
        to_account_id=UUID(source["to_account_id"]),
        amount=int(source["amount"]),
        currency=source["currency"],
        description=source["description"],
        created_at=datetime.fromisoformat(source["created_at"]),
        updated_at=datetime.fromisoformat(source["updated_at"]),
        expires_at=datetime.fromisoformat(expires_at) if expires_at else None,
        stream_version=int(source["stream_version"]),
        position=int(source["position"]),
    )
    return state, HolderNames(source.get("from_holder_name"), source.get("to_holder_name"))
