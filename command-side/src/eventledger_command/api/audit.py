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
from eventledger_command.application.audit import Auditor, event_document
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
    items = [event_document(e) for e in events]
    following = events[-1].stream_version + 1 if len(events) == limit else None
    return {"stream_id": stream_id, "items": items, "next_from_version": following}


@router.get("/events")
def global_log(
    request: Request, from_position: Annotated[int, Query(ge=1, le=MAX_POSITION)] = 1, limit: Limit = 100
) -> dict[str, Any]:
    """The global log in position order, from ``from_position`` on (never skipping a late commit)."""
    events = _auditor(request).global_log(from_position, limit)
    items = [event_document(e) for e in events]
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
