"""Prometheus metrics of the stream job (served on /metrics by its ops endpoint)."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS = Counter("eventledger_stream_events_total", "Messages of the transfers topic read, by outcome", ["outcome"])
CELLS = Counter("eventledger_stream_window_cells_written_total", "Window cells that changed in Redis")
PUBLISHED = Counter("eventledger_stream_windows_published_total", "Window figures published to the derived topic")
RETRIES = Counter("eventledger_stream_retries_total", "Retries while a dependency was unavailable", ["dependency"])
GAP_MESSAGES = Counter(
    "eventledger_stream_gap_messages_total",
    "Messages the job read itself because the consumer handed over a later offset first (a gap)",
)
