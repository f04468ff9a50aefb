"""Admin commands of the write side (role ``admin``, checked by the gateway): erasing an account holder's personal
data (crypto-shredding, issue 12)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from eventledger_command.api.idempotency import Caller
from eventledger_command.application.erasure import HolderEraser
from eventledger_events import EventMetadata
from eventledger_events.values import ERASURE_REASON_MAX_LENGTH, StorableText

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class ErasureRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"reason": "the holder asked to be forgotten (ticket 4711)"}]},
    )
    reason: Annotated[
        StorableText,
        Field(min_length=1, max_length=ERASURE_REASON_MAX_LENGTH, description="Why: recorded in the erasure event."),
    ]


@router.post(
    "/accounts/{account_id}/erasure",
    responses={
        404: {"description": "Unknown account", "content": {"application/problem+json": {}}},
        422: {"description": "Invalid request", "content": {"application/problem+json": {}}},
    },
)
def erase_holder(account_id: uuid.UUID, body: ErasureRequest, request: Request) -> dict[str, Any]:
    """Erase the account holder's personal data: its data key is destroyed, then ``account.personal_data_erased``
    records who (the authenticated client), when and why. A repeat answers the first erasure's record."""
    eraser: HolderEraser = request.app.state.eraser
    caller = Caller.of(request)
    metadata = EventMetadata(actor=caller.actor, correlation_id=caller.correlation_id)
    return eraser.erase(account_id, reason=body.reason, metadata=metadata).as_reply()
