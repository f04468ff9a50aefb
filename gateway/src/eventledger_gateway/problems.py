"""RFC 9457 problem details for every error the gateway itself answers; never a stack trace.

Contract: every kind of error has a stable ``type`` (``https://eventledger.dev/problems/<kind>``, the same base as
the sides use), the ``status`` member equals the HTTP status, and ``instance`` is the request path. Headers a
problem needs (``WWW-Authenticate``, ``Retry-After``) travel with it.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from eventledger_gateway.oauth.revocation import RevocationListUnavailable
from eventledger_runtime.problems import PROBLEM_JSON, Problem
from eventledger_runtime.problems import install as install_problems

__all__ = ["PROBLEM_JSON", "Problem", "for_status", "install"]

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


def for_status(status: int, detail: str = "") -> Problem:
    """The generic problem for a plain HTTP status."""
    code, title = _STATUS_KINDS.get(status, (f"http_{status}", f"HTTP {status}"))
    return Problem(status, code, title, detail)


def install(app: FastAPI) -> None:
    """Answer :class:`Problem` and Starlette's HTTP errors (404, 405) as problem+json.

    Unexpected exceptions are answered by :mod:`eventledger_gateway.context`, which sits outside the routing so
    that even a 500 carries the request's ids.
    """

    install_problems(app, http_error=_routing_problem, errors={RevocationListUnavailable: _revocation_unavailable})


def _revocation_unavailable(_: RevocationListUnavailable) -> Problem:
    return Problem(
        503,
        "revocation_list_unavailable",
        "Service unavailable",
        "the revocation list (Redis) cannot be written, so the change was not made; try again",
        headers={"Retry-After": "2"},
    )


def _routing_problem(exc: StarletteHTTPException) -> Problem:
    problem = for_status(exc.status_code, _plain_detail(exc))
    problem.headers.update(exc.headers or {})
    return problem


def _plain_detail(exc: StarletteHTTPException) -> str:
    if exc.status_code == 404:
        return "no such endpoint; the API is described at /openapi.json"
    if exc.status_code == 405:
        return "this endpoint does not take this method"
    return ""
