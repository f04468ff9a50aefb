"""Audit endpoints of PRODUCT.md §3 (role ``auditor``, checked by the gateway), served from the event store.

They live in the command service because it owns the event store and the domain's ``evolve``: a replayed state
is computed by the very code that decided the events (docs/adr/0009-audit-on-the-command-side.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from eventledger_command.api.problems import Problem, invalid
from eventledger_command.application.audit import Auditor
from eventledger_events.bounds import MAX_POSITION, MAX_VERSION, STORABLE_TEXT_PATTERN

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Version = Annotated[int, Query(ge=1, le=MAX_VERSION)]
StreamId = Annotated[str, Path(max_length=200, pattern=STORABLE_TEXT_PATTERN)]


def _auditor(request: Request) -> Auditor:
    auditor: Auditor = request.app.state.auditor
    return auditor


@router.get("/streams/{stream_id}/events")
def stream_events(
    stream_id: StreamId, request: Request, from_version: Version = 1, limit: Limit = 100
) -> dict[str, Any]:
    """The stream's events from ``from_version`` on, with full metadata."""
    if not stream_id.startswith(("account-", "transfer-")):
        raise Problem(404, "not_found", "Not found", f"no stream {stream_id}")
    events = _auditor(request).stream_history(stream_id, from_version, limit)
    if not events and from_version == 1:
        raise Problem(404, "not_found", "Not found", f"no stream {stream_id}")
    items = [_auditor(request).document(e) for e in events]
    following = events[-1].stream_version + 1 if len(events) == limit else None
    return {"stream_id": stream_id, "items": items, "next_from_version": following}


@router.get("/events")
def global_log(
    request: Request, from_position: Annotated[int, Query(ge=1, le=MAX_POSITION)] = 1, limit: Limit = 100
) -> dict[str, Any]:
    """The global log in position order, from ``from_position`` on (never skipping a late commit)."""
    events = _auditor(request).global_log(from_position, limit)
    items = [_auditor(request).document(e) for e in events]
    following = events[-1].position + 1 if events else from_position
    return {"items": items, "next_from_position": following}


@router.get("/accounts/{account_id}/state")
def account_state(
    account_id: uuid.UUID,
    request: Request,
    at: Annotated[datetime | None, Query(description="RFC 3339 instant, e.g. 2026-11-25T12:00:00Z")] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> dict[str, Any]:
    """The account as it stood at a moment (``at``) or after its ``version``-th event, rebuilt by replay."""
    if (at is None) == (version is None):
        raise invalid("query.at", "give exactly one of at and version", also=("query.version",))
    if at is not None and at.tzinfo is None:
        raise invalid("query.at", "an RFC 3339 instant with a time zone")
    found = _auditor(request).account_state(account_id, at=at, version=version)
    account = found.account
    return {
        "account_id": str(account.account_id),
        "holder_name": account.holder_name,
        "currency": account.currency,
        "status": account.status.value,
        "balance": account.balance,
        "available": account.available,
        "overdraft_limit": account.overdraft_limit,
        "held": account.held,
        "version": found.version,
        "as_of": found.as_of.isoformat(),
    }


Instant = Annotated[datetime, Query(description="RFC 3339 instant with a time zone, e.g. 2026-03-31T23:59:59Z")]
KnownAt = Annotated[
    datetime | None,
    Query(description="RFC 3339 instant: answer with what the ledger had recorded by then (default: everything)"),
]


def _instant(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise invalid(f"query.{name}", "an RFC 3339 instant with a time zone")


@router.get("/accounts/{account_id}/balance")
def account_balance(
    account_id: uuid.UUID, request: Request, value_time: Instant, known_at: KnownAt = None
) -> dict[str, Any]:
    """The account's balance at value time ``value_time`` (movements whose money counts at or before it), as the
    ledger knew it at ``known_at`` (movements recorded at or before it), rebuilt from the event store."""
    _instant("value_time", value_time)
    _instant("known_at", known_at)
    known = _auditor(request).known_account(account_id, known_at=known_at)
    counted = [m for m in known.movements if m.value_date <= value_time]
    return {
        "account_id": str(account_id),
        "currency": known.currency,
        "value_time": value_time.isoformat(),
        "known_at": known_at.isoformat() if known_at else None,
        "balance": known.balance_at(value_time),
        "movements": len(counted),
        "backdated_movements": sum(1 for m in counted if m.backdated),
        "last_position": known.last_position,
    }


@router.get("/accounts/{account_id}/statement")
def account_statement(
    account_id: uuid.UUID, request: Request, value_from: Instant, value_to: Instant, known_at: KnownAt = None
) -> dict[str, Any]:
    """The account's statement for the value period ``value_from`` (inclusive) to ``value_to`` (exclusive), as the
    ledger knew it at ``known_at``: the opening balance, each movement in value order with its running balance,
    value date, recording time and back-dated flag, and the closing balance."""
    _instant("value_from", value_from)
    _instant("value_to", value_to)
    _instant("known_at", known_at)
    if value_from >= value_to:
        raise invalid("query.value_to", "must be after value_from", also=("query.value_from",))
    known = _auditor(request).known_account(account_id, known_at=known_at)
    balance = opening = known.balance_before(value_from)
    lines = []
    for movement in known.in_value_period(value_from, value_to):
        balance += movement.amount
        lines.append(
            {
                "transfer_id": str(movement.transfer_id),
                "amount": movement.amount,
                "balance_after": balance,
                "description": movement.description,
                "counterparty_account_id": str(movement.counterparty_account_id),
                "value_date": movement.value_date.isoformat(),
                "recorded_at": movement.recorded_at.isoformat(),
                "backdated": movement.backdated,
                "position": movement.position,
            }
        )
    return {
        "account_id": str(account_id),
        "currency": known.currency,
        "value_from": value_from.isoformat(),
        "value_to": value_to.isoformat(),
        "known_at": known_at.isoformat() if known_at else None,
        "opening_balance": opening,
        "closing_balance": balance,
        "items": lines,
        "last_position": known.last_position,
    }
