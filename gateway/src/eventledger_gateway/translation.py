"""How upstream answers and failures become the gateway's answers (pure functions, no I/O).

Contract:
- 1xx-3xx answers pass through with the headers of :data:`PASSED_RESPONSE_HEADERS`;
- a 4xx problem+json passes through unchanged; a 4xx without a problem body becomes the generic problem of that
  status (its body is not relayed);
- a 503 problem+json passes through (the query side's bounded ``X-Min-Position`` wait), given a ``Retry-After``
  if it came without one; a 503 without one (a proxy's: HAProxy has no replica to send it to) becomes 503
  ``upstream-unavailable`` with ``Retry-After``; every other 5xx becomes 502 ``bad-gateway`` whose body says
  nothing of the upstream's;
- an open circuit (:mod:`eventledger_gateway.breaker`) is 503 ``upstream-circuit-open`` with ``Retry-After``;
- transport failures: could not connect, or no free connection in time → 503 ``upstream-unavailable`` with
  ``Retry-After``; no answer in time → 504 ``upstream-timeout``; anything else (connection dropped mid-answer,
  broken protocol) → 502 ``bad-gateway``. For a command, the 504 and 502 details say that it may have been applied
  and that repeating it with the same ``Idempotency-Key`` is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx
from fastapi.responses import Response

from eventledger_gateway.problems import PROBLEM_JSON, Problem, for_status
from eventledger_gateway.routetable import Route

log = logging.getLogger(__name__)

PASSED_RESPONSE_HEADERS = (
    "content-type",
    "x-read-position",
    "retry-after",
    "idempotent-replayed",
    "location",
    "cache-control",
)
_MAY_HAVE_RUN = "it may have been applied: repeat it with the same Idempotency-Key, which is safe"


def translate_answer(
    route: Route, status: int, headers: Mapping[str, str], content: bytes, *, instance: str, request_id: str
) -> Response:
    """The client's answer for an upstream answer (see the module contract)."""
    is_problem = headers.get("content-type", "").split(";")[0].strip() == PROBLEM_JSON
    passed = {name: headers[name] for name in PASSED_RESPONSE_HEADERS if name in headers}
    if status < 400 or (status < 500 and is_problem):
        return Response(content, status_code=status, headers=passed)
    if status < 500:
        return for_status(status).response(instance)
    if status == 503 and is_problem:
        passed.setdefault("retry-after", "1")
        return Response(content, status_code=status, headers=passed)
    if status == 503:
        # A proxy's own 503 (HAProxy: no replica is up, or none came free in time), not a service's considered one.
        detail = f"no {route.upstream} service can take the request now; try again later"
        return Problem(
            503,
            "upstream_unavailable",
            "Service unavailable",
            detail + (f"; {_MAY_HAVE_RUN}" if route.has_body else ""),
            headers={"Retry-After": passed.get("retry-after", "1")},
        ).response(instance)
    log.warning(
        "%s service answered %s to %s %s (request %s): %r",
        route.upstream,
        status,
        route.method,
        route.path,
        request_id,
        content[:500],
    )
    detail = f"the {route.upstream} service failed to answer (logged under request id {request_id})"
    if route.has_body:
        detail += f"; {_MAY_HAVE_RUN}"
    return Problem(502, "bad_gateway", "Bad gateway", detail).response(instance)


def problem_for_transport_error(route: Route, exc: httpx.HTTPError, retry_after_seconds: int) -> Problem:
    """The problem for a request that got no (complete) answer from its upstream."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Problem(
            503,
            "upstream_unavailable",
            "Service unavailable",
            f"the {route.upstream} service cannot be reached; nothing was sent to it, try again later",
            headers={"Retry-After": str(retry_after_seconds)},
        )
    suffix = f"; {_MAY_HAVE_RUN}" if route.has_body else ""
    if isinstance(exc, httpx.TimeoutException):
        return Problem(
            504, "upstream_timeout", "Gateway timeout", f"the {route.upstream} service did not answer in time{suffix}"
        )
    return Problem(502, "bad_gateway", "Bad gateway", f"the {route.upstream} service broke off its answer{suffix}")


def problem_for_open_circuit(route: Route, retry_after_seconds: int) -> Problem:
    """The problem for a request not sent because the upstream's circuit is open."""
    return Problem(
        503,
        "upstream_circuit_open",
        "Service unavailable",
        f"the {route.upstream} service failed repeatedly, so the gateway holds requests to it back for a moment; "
        "nothing was sent, try again later",
        headers={"Retry-After": str(retry_after_seconds)},
    )
