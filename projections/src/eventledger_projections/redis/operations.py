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
``E``  account.personal_data_erased                recorded_at, "", "", ""
=====  ==========================================  =====================================================

``E`` sets the account's ``holder_name`` to ``[erased]`` (docs/adr/0035-key-handling-for-personal-data.md).

Balances are *set* from ``balance_after`` (never incremented), so a balance heals itself from the next movement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import eventledger_events as ev

FIELDS_PER_OPERATION: Final = 8

Operation = tuple[str, ...]
"""Always :data:`FIELDS_PER_OPERATION` strings."""

Field = Callable[[str], Any]
"""Reads one payload field by name (from a payload model, or from the stored JSON)."""

_TAILS: Final[dict[str, Callable[[Field], tuple[str, str, str, str]]]] = {
    ev.AccountOpened.EVENT_TYPE: lambda f: ("O", f("currency"), f("holder_name"), str(f("overdraft_limit"))),
    ev.AccountFrozen.EVENT_TYPE: lambda f: ("S", "frozen", "", ""),
    ev.AccountUnfrozen.EVENT_TYPE: lambda f: ("S", "open", "", ""),
    ev.AccountClosed.EVENT_TYPE: lambda f: ("S", "closed", "", ""),
    ev.AccountCredited.EVENT_TYPE: lambda f: ("M", str(f("balance_after")), str(f("amount")), f("currency")),
    ev.AccountDebited.EVENT_TYPE: lambda f: ("M", str(f("balance_after")), str(f("amount")), f("currency")),
    ev.AccountHoldPlaced.EVENT_TYPE: lambda f: ("H", str(f("amount")), f("currency"), ""),
    ev.AccountHoldReleased.EVENT_TYPE: lambda f: ("H", str(-f("amount")), f("currency"), ""),
    ev.AccountPersonalDataErased.EVENT_TYPE: lambda f: ("E", "", "", ""),
    ev.TransferPosted.EVENT_TYPE: lambda f: ("T", "posted", str(f("amount")), f("currency")),
    ev.TransferPendingPosted.EVENT_TYPE: lambda f: ("T", "posted", str(f("amount")), f("currency")),
    ev.TransferPendingCreated.EVENT_TYPE: lambda f: ("T", "pending", "0", f("currency")),
    ev.TransferVoided.EVENT_TYPE: lambda f: ("T", "voided", "0", ""),
    ev.TransferExpired.EVENT_TYPE: lambda f: ("T", "expired", "0", ""),
}
"""Per event type (current schema versions): the operation's kind and its fields a, b, c."""


class UnappliableEvent(ValueError):
    """The event cannot be applied to the Redis read model (a fault of the event, never of the store)."""


def operation(envelope: ev.EventEnvelope) -> Operation:
    """The operation of one appended event; :class:`UnappliableEvent` when it has no place in the read model."""
    if envelope.position is None or envelope.recorded_at is None:
        raise UnappliableEvent(f"event {envelope.event_id} was never appended (no position)")
    payload = envelope.payload
    return operation_of(
        envelope.event_type,
        envelope.stream_id,
        envelope.stream_version,
        envelope.position,
        envelope.recorded_at.isoformat(),
        lambda name: getattr(payload, name),
    )


def operation_of(
    event_type: str, stream_id: str, stream_version: int, position: int, recorded_at: str, field: Field
) -> Operation:
    """The operation of an event of the *current* schema version of ``event_type``, given how to read its payload
    fields. The payload's own id must be its stream's (the version guard is per stream)."""
    tail = _TAILS.get(event_type)
    if tail is None:
        raise UnappliableEvent(f"{event_type} has no place in the Redis read model")
    category, _, entity = stream_id.partition("-")
    own = field(f"{category}_id")
    if str(own) != entity:
        raise UnappliableEvent(f"{event_type} of {own} recorded in stream {stream_id}")
    kind, a, b, c = tail(field)
    return (kind, entity, str(stream_version), str(position), recorded_at, a, b, c)


def flatten(operations: Iterable[Operation]) -> list[str]:
    """The script's argument list for a sequence of operations."""
    return [field for op in operations for field in op]
