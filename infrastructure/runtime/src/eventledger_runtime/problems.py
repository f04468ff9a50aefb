"""RFC 9457 problem details, shared by every HTTP service: one :class:`Problem`, one way to install its handlers.

Contract: every kind of error has a stable ``type`` (``https://eventledger.dev/problems/<kind>``), the ``status``
member equals the HTTP status, ``instance`` is the request path, and no answer carries a stack trace. Each service
keeps its own problem *types* (its domain errors, its 503s) and hands them to :func:`install`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://eventledger.dev/problems/"


def problem_type(code: str) -> str:
    return TYPE_BASE + code.replace("_", "-")


class Problem(Exception):
    """An error answer: ``code`` names its type; ``extra`` members are added to the body; ``headers`` (for example
    ``Retry-After``) travel with it."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}
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
        return Response(
            self.body(instance),
            status_code=self.status,
            media_type=PROBLEM_JSON,
            headers={**self.headers, **(headers or {})},
        )


def validation_problem(errors: Any) -> Problem:
    """422 naming each bad field (``body.amount``, ``header.idempotency-key``…) and why it is bad."""
    invalid = [
        {"field": ".".join(str(part) for part in error.get("loc", ())), "message": error.get("msg", "invalid")}
        for error in errors
    ]
    fields = ", ".join(item["field"] for item in invalid) or "the request"
    return Problem(422, "validation_error", "Invalid request", f"invalid: {fields}", errors=invalid)


def invalid(field: str, message: str, *, also: tuple[str, ...] = ()) -> Problem:
    """422 for one bad field (``query.at``, ``header.idempotency-key``…) and why; the detail also names ``also``,
    the fields it is bad together with."""
    fields = ", ".join((field, *also))
    return Problem(
        422, "validation_error", "Invalid request", f"invalid: {fields}", errors=[{"field": field, "message": message}]
    )


def database_unavailable() -> Problem:
    """503 while PostgreSQL cannot answer (restarting, failing over, every connection busy). A command's outcome may
    be unknown (a commit cut off): the client sends it again with its ``Idempotency-Key``."""
    return Problem(
        503,
        "database_unavailable",
        "Database unavailable",
        "PostgreSQL did not answer; send the request again (a command with the same Idempotency-Key, which answers "
        "its first outcome if it was recorded)",
        headers={"Retry-After": "1"},
    )


def plain_http_problem(exc: StarletteHTTPException) -> Problem:
    """A routing error (unknown path, wrong method) as a problem titled with Starlette's own words."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
    return Problem(exc.status_code, code, str(exc.detail))


def install(
    app: FastAPI,
    *,
    errors: Mapping[type[Exception], Callable[[Any], Problem]] | None = None,
    http_error: Callable[[StarletteHTTPException], Problem] = plain_http_problem,
    unexpected: Callable[[Exception], Problem] | None = None,
) -> None:
    """Answer :class:`Problem`, request validation errors and routing errors as problem+json.

    ``errors`` maps a service's own exception types to their problems; ``unexpected``, when given, answers any other
    exception (after logging it) instead of the server's bare 500.
    """

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return exc.response(request.url.path)

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, exc: Exception) -> Response:
        log.warning(
            "PostgreSQL unavailable on %s %s (request %s): %s",
            request.method,
            request.url.path,
            request.headers.get("x-request-id", "-"),
            str(exc).strip() or type(exc).__name__,
        )
        return database_unavailable().response(request.url.path)

    for error_type, to_problem in (errors or {}).items():
        app.add_exception_handler(error_type, _handler(to_problem))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return validation_problem(exc.errors()).response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return http_error(exc).response(request.url.path)

    if unexpected is not None:
        answer = unexpected

        @app.exception_handler(Exception)
        async def _unexpected(request: Request, exc: Exception) -> Response:
            request_id = request.headers.get("x-request-id", "-")
            log.exception("unexpected error on %s %s (request %s)", request.method, request.url.path, request_id)
            return answer(exc).response(request.url.path)


def _handler(to_problem: Callable[[Any], Problem]) -> Callable[[Request, Exception], Any]:
    async def handle(request: Request, exc: Exception) -> Response:
        return to_problem(exc).response(request.url.path)

    return handle
