"""The command routes of PRODUCT.md §3 (role ``writer`` is checked by the gateway)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from eventledger_command.api.idempotency import CommandRunner
from eventledger_command.api.problems import invalid
from eventledger_command.api.schemas import (
    AccountCommandResponse,
    MovementRequest,
    OpenAccountRequest,
    TransferCommandResponse,
    TransferRequest,
)
from eventledger_command.application.commands import (
    CloseAccount,
    Deposit,
    FreezeAccount,
    MakeTransfer,
    OpenAccount,
    PostTransfer,
    UnfreezeAccount,
    VoidTransfer,
    Withdraw,
)


async def _runner(request: Request) -> CommandRunner:
    runner: CommandRunner = request.app.state.runner
    return runner


Runner = Annotated[CommandRunner, Depends(_runner)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Repeat a command safely: same key + same body = same answer."),
]

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown account or transfer", "content": {"application/problem+json": {}}},
    409: {"description": "Refused by a business rule", "content": {"application/problem+json": {}}},
    422: {"description": "Invalid request (each bad field is named)", "content": {"application/problem+json": {}}},
}

router = APIRouter(prefix="/v1", responses=PROBLEMS)


@router.post("/accounts", status_code=201, response_model=AccountCommandResponse, tags=["accounts"])
async def open_account(
    body: OpenAccountRequest, request: Request, runner: Runner, _key: IdempotencyKey = None
) -> Response:
    """Open an account with a holder name, a currency and an optional overdraft limit."""
    command = OpenAccount(uuid.uuid4(), body.holder_name, body.currency, body.overdraft_limit)
    return await runner.answer(request, command, 201, body)


@router.post("/accounts/{account_id}/freeze", response_model=AccountCommandResponse, tags=["accounts"])
async def freeze(account_id: uuid.UUID, request: Request, runner: Runner, _key: IdempotencyKey = None) -> Response:
    """Freeze an account: no debits and no new holds; credits still arrive."""
    return await runner.answer(request, FreezeAccount(account_id), 200, None)


@router.post("/accounts/{account_id}/unfreeze", response_model=AccountCommandResponse, tags=["accounts"])
async def unfreeze(account_id: uuid.UUID, request: Request, runner: Runner, _key: IdempotencyKey = None) -> Response:
    """Unfreeze a frozen account."""
    return await runner.answer(request, UnfreezeAccount(account_id), 200, None)


@router.post("/accounts/{account_id}/close", response_model=AccountCommandResponse, tags=["accounts"])
async def close(account_id: uuid.UUID, request: Request, runner: Runner, _key: IdempotencyKey = None) -> Response:
    """Close an account whose balance is 0 and that has no open hold."""
    return await runner.answer(request, CloseAccount(account_id), 200, None)


@router.post("/deposits", status_code=201, response_model=TransferCommandResponse, tags=["movements"])
async def deposit(body: MovementRequest, request: Request, runner: Runner, _key: IdempotencyKey = None) -> Response:
    """Money in from outside (the currency's external account)."""
    command = Deposit(uuid.uuid4(), body.account_id, body.amount, body.description, body.value_date)
    return await runner.answer(request, command, 201, body)


@router.post("/withdrawals", status_code=201, response_model=TransferCommandResponse, tags=["movements"])
async def withdraw(body: MovementRequest, request: Request, runner: Runner, _key: IdempotencyKey = None) -> Response:
    """Money out to the outside (the currency's external account)."""
    command = Withdraw(uuid.uuid4(), body.account_id, body.amount, body.description, body.value_date)
    return await runner.answer(request, command, 201, body)


@router.post("/transfers", status_code=201, response_model=TransferCommandResponse, tags=["movements"])
async def make_transfer(
    body: TransferRequest, request: Request, runner: Runner, _key: IdempotencyKey = None
) -> Response:
    """Move money between two accounts of one currency, at once or as a pending transfer that holds the amount."""
    if body.pending and body.timeout_seconds is None:
        raise invalid("body.timeout_seconds", "required when pending is true")
    if not body.pending and body.timeout_seconds is not None:
        raise invalid("body.timeout_seconds", "only for pending transfers")
    if body.pending and body.value_date is not None:
        raise invalid("body.value_date", "not for pending transfers: their money counts when they are posted")
    command = MakeTransfer(
        uuid.uuid4(),
        body.from_account_id,
        body.to_account_id,
        body.amount,
        body.description,
        body.pending,
        body.timeout_seconds,
        body.value_date,
    )
    return await runner.answer(request, command, 201, body)


@router.post("/transfers/{transfer_id}/post", response_model=TransferCommandResponse, tags=["movements"])
async def post_transfer(
    transfer_id: uuid.UUID, request: Request, runner: Runner, _key: IdempotencyKey = None
) -> Response:
    """Post a pending transfer before it expires: the held money moves."""
    return await runner.answer(request, PostTransfer(transfer_id), 200, None)


@router.post("/transfers/{transfer_id}/void", response_model=TransferCommandResponse, tags=["movements"])
async def void_transfer(
    transfer_id: uuid.UUID, request: Request, runner: Runner, _key: IdempotencyKey = None
) -> Response:
    """Void a pending transfer: the hold is released."""
    return await runner.answer(request, VoidTransfer(transfer_id), 200, None)
