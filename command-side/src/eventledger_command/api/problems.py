"""RFC 9457 problem details: one stable ``type`` per kind of error, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from eventledger_command.domain import DomainError, InvalidCommandError, NotFoundError, RuleViolationError
from eventledger_command.eventstore.errors import ConcurrencyConflict

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://eventledger.dev/problems/"
_RESERVED = frozenset({"type", "title", "status", "detail", "instance", "code", "extra"})


def problem_type(code: str) -> str:
    return TYPE_BASE + code.replace("_", "-")


class Problem(Exception):
    """An error answer: ``code`` names its type; ``extra`` members are added to the body."""

    def __init__(self, status: int, code: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra

    def body(self, instance: str) -> bytes:
        document: dict[str, Any] = {
            "type": problem_type(self.code),
            "title": self.title,
            "status": self.status,
            "instance": instance,
        }
        if self.detail:
            document["detail"] = self.detail
        document.update(self.extra)
        return orjson.dumps(document)

    def response(self, instance: str, headers: dict[str, str] | None = None) -> Response:
        return Response(self.body(instance), status_code=self.status, media_type=PROBLEM_JSON, headers=headers)


def from_domain(error: DomainError) -> Problem:
    if isinstance(error, NotFoundError):
        status = 404
    elif isinstance(error, RuleViolationError):
        status = 409
    elif isinstance(error, InvalidCommandError):
        status = 422
    else:
        status = 409
    title = error.code.replace("_", " ").capitalize()
    # Details become extension members; one that would shadow a standard member is renamed
    # (a transfer's "status" becomes "current_status").
    details = {(f"current_{key}" if key in _RESERVED else key): value for key, value in error.details.items()}
    return Problem(status, error.code, title, error.message, **details)


def from_conflict(error: ConcurrencyConflict) -> Problem:
    return Problem(
        409,
        "concurrency_conflict",
        "Concurrency conflict",
        "another command changed the same account at the same moment; send the command again",
        stream_id=error.stream_id,
    )


def install(app: FastAPI) -> None:
    """Map every error to problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return exc.response(request.url.path)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return from_domain(exc).response(request.url.path)

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(request: Request, exc: ConcurrencyConflict) -> Response:
        return from_conflict(exc).response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return validation_problem(exc.errors()).response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return Problem(exc.status_code, code, str(exc.detail)).response(request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return Problem(500, "internal_error", "Internal error", "the error was logged").response(request.url.path)


def validation_problem(errors: Any) -> Problem:
    """422 naming each bad field (``body.amount``, ``header.idempotency-key``…) and why it is bad."""
    invalid = [
        {"field": ".".join(str(part) for part in error.get("loc", ())), "message": error.get("msg", "invalid")}
        for error in errors
    ]
    fields = ", ".join(item["field"] for item in invalid) or "the request"
    return Problem(422, "validation_error", "Invalid request", f"invalid: {fields}", errors=invalid)
