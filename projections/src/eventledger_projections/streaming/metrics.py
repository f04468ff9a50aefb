"""Prometheus metrics of the stream job (served on /metrics by its ops endpoint)."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS = Counter("eventledger_stream_events_total", "Messages of the transfers topic read, by outcome", ["outcome"])
CELLS = Counter("eventledger_stream_window_cells_written_total", "Window cells that changed in Redis")
PUBLISHED = Counter("eventledger_stream_windows_published_total", "Window figures published to the derived topic")
RETRIES = Counter("eventledger_stream_retries_total", "Retries while a dependency was unavailable", ["dependency"])
REWINDS = Counter(
    "eventledger_stream_rewinds_total", "Times a partition was read again from the next expected offset (a gap)"
)
