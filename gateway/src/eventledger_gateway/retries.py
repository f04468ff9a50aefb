"""Which upstream failures count against a circuit and may be retried, which requests may be sent again, and the
pause before another attempt (ADR 0018). Pure functions, no I/O.

Contract:
- a **failure** is an outcome of a transport kind: no connection, a connection that dropped or timed out, or an
  answer 502, 503 or 504 without a problem body (a proxy's: HAProxy found no live server, or lost the one it asked).
  A problem+json 503 is a service's considered answer (a read model behind ``X-Min-Position``, its database down)
  and no failure. Neither is a pool timeout, which is the gateway's own congestion: every connection is busy;
- only a request that is harmless to repeat is ever sent twice: GET or HEAD, or one carrying an ``Idempotency-Key``
  (the command service answers a repeat with the original answer). A POST without a key never is;
- the pause before extra attempt ``n`` (1, 2, ...) is jittered between half and all of 50 ms * 2^(n-1).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import httpx

from eventledger_gateway.breaker import UpstreamFailed
from eventledger_gateway.problems import PROBLEM_JSON

FIRST_PAUSE_SECONDS = 0.05
_PROXY_STATUSES = frozenset({502, 503, 504})
_REPEATABLE_METHODS = frozenset({"GET", "HEAD"})


class AttemptFailed(UpstreamFailed):
    """One attempt failed; ``reason`` names the kind (for the metrics). Either the transport ``error`` or the
    proxy's ``status``, ``headers`` and ``content`` say what came back."""

    def __init__(
        self,
        reason: str,
        *,
        error: httpx.HTTPError | None = None,
        status: int = 0,
        headers: Mapping[str, str] | None = None,
        content: bytes = b"",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.content = content


def transport_failure(error: httpx.HTTPError) -> AttemptFailed | None:
    """The failure a transport error is, or None when it says nothing about the upstream (a pool timeout)."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return AttemptFailed("connect", error=error)
    if isinstance(error, httpx.ReadTimeout | httpx.WriteTimeout):
        return AttemptFailed("timeout", error=error)
    if isinstance(error, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return AttemptFailed("connection_dropped", error=error)
    return None


def is_proxy_failure(status: int, headers: Mapping[str, str]) -> bool:
    """A 502, 503 or 504 without a problem body: no service of ours said it."""
    return status in _PROXY_STATUSES and headers.get("content-type", "").split(";")[0].strip() != PROBLEM_JSON


def may_repeat(method: str, headers: Mapping[str, str]) -> bool:
    return method in _REPEATABLE_METHODS or "idempotency-key" in headers


def pause_before(extra_attempt: int) -> float:
    ceiling = FIRST_PAUSE_SECONDS * 2 ** (extra_attempt - 1)
    return random.uniform(ceiling / 2, ceiling)
