"""From events to the flat operations the apply script folds into Redis. Pure: no I/O.

Each event becomes one operation of :data:`FIELDS_PER_OPERATION` strings::

    kind, entity id, stream version, position, a, b, c, d

=====  ==========================================  =====================================================
kind   events                                      a, b, c, d
=====  ==========================================  =====================================================
``O``  account.opened                              recorded_at, currency, holder name, overdraft limit
``S``  account.frozen / unfrozen / closed          recorded_at, new status, "", ""
``M``  account.credited / debited                  recorded_at, balance_after, amount, currency
``H``  account.hold_placed / hold_released         recorded_at, held delta (+/-amount), currency, ""
``T``  transfer.*                                  recorded_at, status, posted amount (0: none), currency
=====  ==========================================  =====================================================

Balances are *set* from ``balance_after`` (never incremented), so a balance heals itself from the next movement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from eventledger_events import (
    AccountClosed,
    AccountCredited,
    AccountDebited,
    AccountFrozen,
    AccountHoldPlaced,
    AccountHoldReleased,
    AccountOpened,
    AccountUnfrozen,
    DomainEvent,
    EventEnvelope,
    TransferExpired,
    TransferPendingCreated,
    TransferPendingPosted,
    TransferPosted,
    TransferVoided,
    parse_stream_id,
)

FIELDS_PER_OPERATION: Final = 8

Operation = tuple[str, ...]
"""Always :data:`FIELDS_PER_OPERATION` strings."""

_STATUS_BY_EVENT: Final[dict[type[DomainEvent], str]] = {
    AccountFrozen: "frozen",
    AccountUnfrozen: "open",
    AccountClosed: "closed",
}


class UnappliableEvent(ValueError):
    """The event cannot be applied to the Redis read model (a fault of the event, never of the store)."""


def operation(envelope: EventEnvelope) -> Operation:
    """The operation of one appended event; :class:`UnappliableEvent` when it has no place in the read model."""
    if envelope.position is None or envelope.recorded_at is None:
        raise UnappliableEvent(f"event {envelope.event_id} was never appended (no position)")
    category, entity = parse_stream_id(envelope.stream_id)
    payload = envelope.payload
    own = getattr(payload, f"{category}_id", None)
    if own != entity:
        raise UnappliableEvent(f"{envelope.full_event_type} of {own} recorded in stream {envelope.stream_id}")
    head = (str(entity), str(envelope.stream_version), str(envelope.position), envelope.recorded_at.isoformat())
    match payload:
        case AccountOpened():
            kind, rest = "O", (payload.currency, payload.holder_name, str(payload.overdraft_limit))
        case AccountFrozen() | AccountUnfrozen() | AccountClosed():
            kind, rest = "S", (_STATUS_BY_EVENT[type(payload)], "", "")
        case AccountCredited() | AccountDebited():
            kind, rest = "M", (str(payload.balance_after), str(payload.amount), payload.currency)
        case AccountHoldPlaced() | AccountHoldReleased():
            delta = payload.amount if isinstance(payload, AccountHoldPlaced) else -payload.amount
            kind, rest = "H", (str(delta), payload.currency, "")
        case TransferPosted() | TransferPendingPosted():
            kind, rest = "T", ("posted", str(payload.amount), payload.currency)
        case TransferPendingCreated():
            kind, rest = "T", ("pending", "0", payload.currency)
        case TransferVoided() | TransferExpired():
            kind, rest = "T", ("voided" if isinstance(payload, TransferVoided) else "expired", "0", "")
        case _:
            raise UnappliableEvent(f"{envelope.full_event_type} has no place in the Redis read model")
    return (kind, *head, *rest)


def flatten(operations: Iterable[Operation]) -> list[str]:
    """The script's argument list for a sequence of operations."""
    return [field for op in operations for field in op]
