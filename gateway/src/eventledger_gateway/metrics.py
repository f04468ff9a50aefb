"""The gateway's Prometheus metrics (process-wide, on the default registry; served at ``/metrics``).

Labels stay bounded: ``route`` is the route's path template (``/v1/accounts/{account_id}``) or ``unmatched``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "eventledger_gateway_requests_total",
    "Requests answered, by route template, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "eventledger_gateway_request_duration_seconds",
    "Time from request to the end of the answer, by route template and method",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RATE_LIMITED = Counter(
    "eventledger_gateway_rate_limited_total", "Requests refused with 429 by the rate limiter", ["route"]
)
RATE_LIMITER_FAILURES = Counter(
    "eventledger_gateway_rate_limiter_failures_total",
    "Requests the rate limiter could not decide (Redis unreachable), by what the gateway did: open or closed",
    ["policy"],
)
UPSTREAM_ERRORS = Counter(
    "eventledger_gateway_upstream_errors_total",
    "Upstream failures answered as 502/503/504, by upstream and kind",
    ["upstream", "kind"],
)
UPSTREAM_RETRIES = Counter(
    "eventledger_gateway_upstream_retries_total",
    "Extra attempts of requests that are safe to repeat (reads, commands with an Idempotency-Key), by upstream and "
    "the failure that caused them",
    ["upstream", "reason"],
)
CIRCUIT_STATE = Gauge(
    "eventledger_gateway_upstream_circuit_state",
    "The circuit breaker of each upstream address: 0 closed, 1 open, 2 half-open (its probe may be under way)",
    ["upstream"],
)
CIRCUIT_TRANSITIONS = Counter(
    "eventledger_gateway_upstream_circuit_transitions_total",
    "Circuit breaker state changes, by upstream address and the state entered (open, half_open, closed)",
    ["upstream", "state"],
)
