"""Operations routes (role ``admin``, checked by the gateway): projection status, pause/resume, rebuilds."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from eventledger_query.admin import Operations
from eventledger_query.api.problems import Problem

router = APIRouter(prefix="/v1/admin", tags=["operations"])


def _operations(request: Request) -> Operations:
    operations: Operations = request.app.state.operations
    return operations


def _known(operations: Operations, name: str) -> None:
    if name not in operations.names():
        raise Problem(404, "not_found", "Not found", f"no projection {name}; known: {', '.join(operations.names())}")


@router.get("/projections")
def projection_statuses(request: Request) -> dict[str, Any]:
    """Every projection: position, lag in events and seconds, state, and the instances that run it."""
    operations = _operations(request)
    return {"items": [operations.status(name) for name in operations.names()]}


@router.get("/projections/{projection}")
def projection_status(projection: str, request: Request) -> dict[str, Any]:
    operations = _operations(request)
    _known(operations, projection)
    return operations.status(projection)


@router.post("/projections/{projection}/{action}")
def projection_action(projection: str, action: Literal["pause", "resume", "rebuild"], request: Request) -> JSONResponse:
    """Pause or resume every live instance of a projection between batches, or rebuild its read model from the event
    store beside the live one and switch (202: the rebuild runs in the background; follow it with GET)."""
    operations = _operations(request)
    _known(operations, projection)
    if action == "rebuild":
        return JSONResponse({"projection": projection, "rebuild": operations.rebuild(projection)}, status_code=202)
    outcome = operations.act(projection, action)
    if not outcome.reached and not outcome.unanswered:
        raise Problem(503, "projector_unreachable", "Projector unreachable", f"no live {projection} projector")
    if outcome.unanswered:
        reached = ", ".join(outcome.reached) or "none"
        raise Problem(
            503,
            "projector_unreachable",
            "Projector unreachable",
            f"{projection}: instances {', '.join(outcome.unanswered)} did not answer ({action} reached: {reached})",
        )
    return JSONResponse(operations.status(projection))
