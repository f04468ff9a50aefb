"""RFC 9457 problem details for the query service: stable types, named fields, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from eventledger_query.consistency import NotYetVisible

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.code, self.title, self.detail, self.extra = status, code, title, detail, extra

    def response(self, instance: str, headers: dict[str, str] | None = None) -> Response:
        body: dict[str, Any] = {
            "type": "https://eventledger.dev/problems/" + self.code.replace("_", "-"),
            "title": self.title,
            "status": self.status,
            "instance": instance,
        }
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return Response(orjson.dumps(body), status_code=self.status, media_type=PROBLEM_JSON, headers=headers)


def invalid(field: str, message: str) -> Problem:
    return Problem(
        422, "validation_error", "Invalid request", f"invalid: {field}", errors=[{"field": field, "message": message}]
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return exc.response(request.url.path)

    @app.exception_handler(NotYetVisible)
    async def _not_yet(request: Request, exc: NotYetVisible) -> Response:
        problem = Problem(
            503,
            "read_model_behind",
            "Read model behind",
            str(exc),
            wanted_position=exc.wanted,
            read_position=exc.reached,
        )
        return problem.response(request.url.path, {"Retry-After": "1", "X-Read-Position": str(exc.reached)})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        fields = ", ".join(e["field"] for e in errors)
        return Problem(422, "validation_error", "Invalid request", f"invalid: {fields}", errors=errors).response(
            request.url.path
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return Problem(exc.status_code, code, str(exc.detail)).response(request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        problem = Problem(503, "read_model_unavailable", "Read model unavailable", "try again shortly")
        return problem.response(request.url.path, {"Retry-After": "2"})
