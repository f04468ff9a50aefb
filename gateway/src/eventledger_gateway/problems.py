"""RFC 9457 problem details for every error the gateway itself answers; never a stack trace.

Contract: every kind of error has a stable ``type`` (``https://eventledger.dev/problems/<kind>``, the same base as
the sides use), the ``status`` member equals the HTTP status, and ``instance`` is the request path. Headers a
problem needs (``WWW-Authenticate``, ``Retry-After``) travel with it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://eventledger.dev/problems/"

# Kinds for plain HTTP statuses (an unknown path, an upstream 4xx that came without a problem body).
_STATUS_KINDS = {
    400: ("bad_request", "Bad request"),
    401: ("authentication_required", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Invalid request"),
    429: ("too_many_requests", "Too many requests"),
}


def problem_type(code: str) -> str:
    return TYPE_BASE + code.replace("_", "-")


class Problem(Exception):
    """An error answer. ``code`` names its type; ``extra`` members are added to the body."""

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

    @classmethod
    def for_status(cls, status: int, detail: str = "") -> Problem:
        """The generic problem for a plain HTTP status."""
        code, title = _STATUS_KINDS.get(status, (f"http_{status}", f"HTTP {status}"))
        return cls(status, code, title, detail)

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
        return json.dumps(document, separators=(",", ":")).encode()

    def response(self, instance: str) -> Response:
        return Response(self.body(instance), status_code=self.status, media_type=PROBLEM_JSON, headers=self.headers)


def install(app: FastAPI) -> None:
    """Answer :class:`Problem` and Starlette's HTTP errors (404, 405) as problem+json.

    Unexpected exceptions are answered by :mod:`eventledger_gateway.context`, which sits outside the routing so
    that even a 500 carries the request's ids.
    """

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return exc.response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        problem = Problem.for_status(exc.status_code, _plain_detail(exc))
        problem.headers.update(exc.headers or {})
        return problem.response(request.url.path)


def _plain_detail(exc: StarletteHTTPException) -> str:
    if exc.status_code == 404:
        return "no such endpoint; the API is described at /openapi.json"
    if exc.status_code == 405:
        return "this endpoint does not take this method"
    return ""
