"""The query rows of PRODUCT.md §3 (role ``reader`` is checked by the gateway)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from elasticsearch import BadRequestError
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from redis.exceptions import RedisError

from eventledger_events.bounds import MAX_POSITION
from eventledger_events.values import StorableText
from eventledger_projections.elasticsearch.search import TransferQuery
from eventledger_query.api import cursor
from eventledger_query.api.problems import Problem, invalid
from eventledger_query.consistency import wait_for_position
from eventledger_query.readers import AccountFilter
from eventledger_query.services import Readers
from eventledger_runtime.http_service import is_draining

router = APIRouter(prefix="/v1")

MinPosition = Annotated[
    int | None,
    Header(
        alias="X-Min-Position",
        ge=0,
        le=MAX_POSITION,
        description="Wait (bounded) until the read model reflects this position.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=200)]
RECONNECT_AFTER_MS = 2000
"""The ``retry`` the figures stream sends: how long a client waits before it reconnects after the stream ends."""
MAX_AMOUNT = 10**15  # the command API's bound on amounts: larger values cannot exist


def _readers(request: Request) -> Readers:
    readers: Readers = request.app.state.readers
    return readers


def _json(body: Any, position: int) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", headers={"X-Read-Position": str(position)})


def _aware(field: str, moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise invalid(field, "an RFC 3339 instant with a time zone")
    return moment


def _account_body(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_id": str(row["account_id"]),
        "holder_name": row["holder_name"],
        "currency": row["currency"],
        "status": row["status"],
        "balance": int(row["balance"]),
        "available": int(row["available"]),
        "overdraft_limit": int(row["overdraft_limit"]),
        "version": int(row["version"]),
        "updated_at": row["updated_at"].isoformat() if isinstance(row["updated_at"], datetime) else row["updated_at"],
    }


@router.get("/accounts/{account_id}", tags=["accounts"])
def get_account(account_id: uuid.UUID, request: Request, min_position: MinPosition = None) -> Response:
    """An account's balance and status: from the Redis balance cache (hot reads); from PostgreSQL when Redis
    fails or has no live read model yet."""
    readers = _readers(request)
    try:
        if not readers.redis.built():
            raise RedisError("no live Redis read model")
        position = wait_for_position(readers.redis.position, min_position, readers.wait)
        view = readers.redis.account(account_id)
        row = dataclasses.asdict(view) if view is not None else None
    except RedisError:
        position = wait_for_position(readers.postgres.position, min_position, readers.wait)
        row = readers.postgres.account(account_id)
    if row is None:
        raise Problem(404, "not_found", "Not found", f"no account {account_id}", account_id=str(account_id))
    return _json(_account_body(row), position)


@router.get("/accounts", tags=["accounts"])
def list_accounts(
    request: Request,
    status: Literal["open", "frozen", "closed"] | None = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    holder: Annotated[StorableText | None, Query(min_length=1, max_length=200)] = None,
    limit: Limit = 50,
    cursor_: Annotated[str | None, Query(alias="cursor")] = None,
    min_position: MinPosition = None,
) -> Response:
    """Accounts filtered by status, currency and holder-name prefix, in pages."""
    readers = _readers(request)
    position = wait_for_position(readers.postgres.position, min_position, readers.wait)
    after = cursor.decode(cursor_)
    try:
        after_id = uuid.UUID(after["account_id"]) if after else None
    except (KeyError, ValueError, TypeError) as exc:
        raise invalid("query.cursor", "not a cursor this API gave out") from exc
    rows = readers.postgres.accounts(AccountFilter(status, currency, holder), limit + 1, after_id)
    page, more = rows[:limit], len(rows) > limit
    following = cursor.encode({"account_id": str(page[-1]["account_id"])}) if more else None
    return _json({"items": [_account_body(r) for r in page], "next_cursor": following}, position)


@router.get("/accounts/{account_id}/entries", tags=["accounts"])
def account_entries(
    account_id: uuid.UUID,
    request: Request,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    limit: Limit = 50,
    cursor_: Annotated[str | None, Query(alias="cursor")] = None,
    min_position: MinPosition = None,
) -> Response:
    """The account's statement: signed amounts with the balance after each, oldest first, in pages."""
    readers = _readers(request)
    since, until = _aware("query.from", from_), _aware("query.to", to)
    position = wait_for_position(readers.postgres.position, min_position, readers.wait)
    if readers.postgres.account(account_id) is None:
        raise Problem(404, "not_found", "Not found", f"no account {account_id}", account_id=str(account_id))
    after = cursor.decode(cursor_)
    try:
        after_key = (datetime.fromisoformat(after["posted_at"]), int(after["position"])) if after else None
    except (KeyError, ValueError, TypeError) as exc:
        raise invalid("query.cursor", "not a cursor this API gave out") from exc
    rows = readers.postgres.entries(account_id, since, until, limit + 1, after_key)
    page, more = rows[:limit], len(rows) > limit
    items = [
        {
            "transfer_id": str(r["transfer_id"]),
            "amount": int(r["amount"]),
            "balance_after": int(r["balance_after"]),
            "description": r["description"],
            "posted_at": r["posted_at"].isoformat(),
            "position": int(r["position"]),
        }
        for r in page
    ]
    following = (
        cursor.encode({"posted_at": page[-1]["posted_at"].isoformat(), "position": int(page[-1]["position"])})
        if more
        else None
    )
    return _json({"items": items, "next_cursor": following}, position)


@router.get("/transfers/{transfer_id}", tags=["transfers"])
def get_transfer(transfer_id: uuid.UUID, request: Request, min_position: MinPosition = None) -> Response:
    readers = _readers(request)
    position = wait_for_position(readers.postgres.position, min_position, readers.wait)
    row = readers.postgres.transfer(transfer_id)
    if row is None:
        raise Problem(404, "not_found", "Not found", f"no transfer {transfer_id}", transfer_id=str(transfer_id))
    body = {
        "transfer_id": str(row["transfer_id"]),
        "from_account_id": str(row["from_account_id"]),
        "to_account_id": str(row["to_account_id"]),
        "amount": int(row["amount"]),
        "currency": row["currency"],
        "status": row["status"],
        "description": row["description"],
        "created_at": row["created_at"].isoformat(),
        "position": int(row["position"]),
    }
    return _json(body, position)


@router.get("/search/transfers", tags=["search"])
def search_transfers(
    request: Request,
    q: Annotated[StorableText | None, Query(max_length=500)] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    status: Literal["pending", "posted", "voided", "expired"] | None = None,
    min_amount: Annotated[int | None, Query(ge=0, le=MAX_AMOUNT)] = None,
    max_amount: Annotated[int | None, Query(ge=0, le=MAX_AMOUNT)] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    limit: Limit = 20,
    min_position: MinPosition = None,
) -> Response:
    """Full-text search over descriptions and holder names, with filters and facets by currency and status."""
    readers = _readers(request)
    try:
        query = TransferQuery(
            q=q,
            currency=currency,
            status=status,
            min_amount=min_amount,
            max_amount=max_amount,
            created_from=_aware("query.from", from_),
            created_to=_aware("query.to", to),
            limit=limit,
        )
    except ValueError as exc:
        field, _, message = str(exc).partition(":")
        raise invalid(f"query.{field.replace('created_', '')}", message.strip() or str(exc)) from exc
    position = wait_for_position(readers.search.position, min_position, readers.wait)
    try:
        page = readers.search.search(query)
    except BadRequestError as exc:  # a query Elasticsearch cannot run is the caller's, never a 5xx
        raise invalid("query", "Elasticsearch cannot run this search") from exc
    return _json(page.as_json(), position)


def overview_body(readers: Readers) -> tuple[dict[str, Any], int]:
    overview = readers.redis.overview(top=10)
    windows = readers.windows()
    ranked = sorted(
        ((volume, account, currency) for currency, rows in overview.top_accounts.items() for account, volume in rows),
        reverse=True,
    )[:10]
    names = readers.redis.holder_names([account for _, account, _ in ranked])
    top = [
        {"account_id": account, "holder_name": names.get(account), "currency": currency, "volume": volume}
        for volume, account, currency in ranked
    ]
    body = {
        "open_accounts": overview.open_accounts,
        "accounts_by_status": overview.accounts_by_status,
        "volume_per_currency": overview.volume,
        "transfers_per_currency": overview.posted_transfers,
        "transfers_per_minute": windows.get("transfers_per_minute", 0),
        "windows": windows,
        "last_hour": readers.last_hour(),
        "top_accounts": top,
        "position": overview.reflected_position,
    }
    return body, overview.reflected_position


@router.get("/stats/overview", tags=["stats"])
def stats_overview(request: Request, min_position: MinPosition = None) -> Response:
    """Live figures for dashboards (Redis)."""
    readers = _readers(request)
    wait_for_position(readers.redis.position, min_position, readers.wait)
    body, position = overview_body(readers)
    return _json(body, position)


@router.get("/stats/stream", tags=["stats"])
async def stats_stream(request: Request) -> StreamingResponse:
    """The same figures pushed as Server-Sent Events, each time they change (and at least every 15 s, so that a
    client can tell a quiet stream from a dead one). The first frame tells the client to wait ``retry`` ms before
    it reconnects. The stream ends when the service drains (ADR 0018): the client reconnects to a replica that is
    not stopping (ADR 0029)."""
    readers = _readers(request)
    interval = readers.stream_interval

    async def frames(read: Callable[[], tuple[dict[str, Any], int]]) -> AsyncIterator[bytes]:
        last: bytes | None = None
        quiet = 0.0
        yield b"retry: " + str(RECONNECT_AFTER_MS).encode() + b"\n\n"
        while not (is_draining(request.app) or await request.is_disconnected()):
            body, position = await asyncio.to_thread(read)
            data = orjson.dumps(body)
            if data != last or quiet >= 15:
                yield b"id: " + str(position).encode() + b"\nevent: figures\ndata: " + data + b"\n\n"
                last, quiet = data, 0.0
            await asyncio.sleep(interval)
            quiet += interval

    return StreamingResponse(
        frames(lambda: overview_body(readers)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
