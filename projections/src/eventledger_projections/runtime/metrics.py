"""Prometheus metrics of every projector, labelled by projection name (served on /metrics by the ops endpoint)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

APPLIED = Counter("eventledger_projection_events_applied_total", "Events applied to the read model", ["projection"])
ERRORS = Counter(
    "eventledger_projection_errors_total",
    "Failures seen by the runner: transient (store unavailable), apply, decode, dead_letter, progress",
    ["projection", "kind"],
)
DEAD_LETTERS = Counter(
    "eventledger_projection_dead_letters_total", "Messages parked in the dead-letter topic", ["projection"]
)
LAG_EVENTS = Gauge(
    "eventledger_projection_lag_events",
    "Messages not yet applied: high watermark minus next offset, per assigned partition",
    ["projection", "topic", "partition"],
)
LAG_SECONDS = Gauge(
    "eventledger_projection_lag_seconds",
    "0 when caught up; otherwise now minus the recorded time of the last event applied",
    ["projection"],
)
BATCH_SECONDS = Histogram(
    "eventledger_projection_batch_seconds",
    "Time to decode, apply and commit one batch",
    ["projection"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_EVENTS = Histogram(
    "eventledger_projection_batch_events",
    "Messages per batch",
    ["projection"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
REFLECTED_POSITION = Gauge(
    "eventledger_projection_reflected_position", "Global position the read model reflects", ["projection"]
)
PAUSED = Gauge("eventledger_projection_paused", "1 while the projection is paused", ["projection"])
