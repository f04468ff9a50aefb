"""The derived topic ``eventledger.stats.transfer-windows.v1``: the window figures, for analysts.

Key: ``<window>|<currency>|<window start, RFC 3339>`` (UTF-8), so every revision of a window stays in one partition.
Value: JSON (UTF-8)::

    {"window": "tumbling-1m", "window_start": "2026-06-01T12:00:00+00:00", "window_end": "2026-06-01T12:01:00+00:00",
     "currency": "EUR", "transfers": 12, "volume": 345600, "revision": 7, "emitted_at": "2026-06-01T12:01:02+00:00"}

A window is published again each time its figures change (at most once per publish interval): the message with the
highest ``revision`` for a key is the current one (a compacted topic keeps just that). Delivery is at least once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from aiokafka import AIOKafkaProducer

from eventledger_projections.streaming.sink import RedisWindowSink, WindowFigures

log = logging.getLogger(__name__)

DERIVED_TOPIC: Final = "eventledger.stats.transfer-windows.v1"


def message_of(figures: WindowFigures, emitted_at: datetime) -> tuple[bytes, bytes]:
    """The key and value of one window's figures."""
    start = datetime.fromtimestamp(figures.start, UTC).isoformat()
    value = {
        "window": figures.window,
        "window_start": start,
        "window_end": datetime.fromtimestamp(figures.end, UTC).isoformat(),
        "currency": figures.currency,
        "transfers": figures.transfers,
        "volume": figures.volume,
        "revision": figures.revision,
        "emitted_at": emitted_at.isoformat(),
    }
    key = f"{figures.window}|{figures.currency}|{start}"
    return key.encode(), json.dumps(value, separators=(",", ":")).encode()


def producer_settings(bootstrap: str, client_id: str) -> dict[str, Any]:
    """aiokafka's defaults are unsafe here (acks=1, no idempotence): every setting that matters is explicit."""
    return {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "request_timeout_ms": 30000,
    }


class WindowPublisher:
    """Drains the sink's dirty windows into the derived topic; forgets them only once Kafka acknowledged."""

    def __init__(self, producer: AIOKafkaProducer, sink: RedisWindowSink, topic: str, *, batch: int = 500) -> None:
        self._producer = producer
        self._sink = sink
        self.topic = topic
        self._batch = batch

    async def publish_dirty(self) -> int:
        """Publish every window changed since the last call (in batches); answers how many were published."""
        published = 0
        while True:
            dirty = await self._sink.dirty(self._batch)
            if not dirty:
                return published
            done = await self._publish(dirty)
            published += done
            if len(dirty) < self._batch:
                return published

    async def _publish(self, dirty: Sequence[tuple[str, int]]) -> int:
        members = [member for member, _ in dirty]
        now = datetime.now(UTC)
        sent: list[tuple[str, int, Any]] = []
        acknowledged: list[tuple[str, int]] = []
        for (member, listed_revision), figures in zip(dirty, await self._sink.figures(members), strict=True):
            if figures is None:  # expired meanwhile: nothing left to tell
                acknowledged.append((member, listed_revision))
                continue
            key, value = message_of(figures, now)
            sent.append((member, figures.revision, await self._producer.send(self.topic, value=value, key=key)))
        for member, revision, delivery in sent:
            await delivery  # raises when the broker did not acknowledge: the window stays dirty
            acknowledged.append((member, revision))
        await self._sink.acknowledge(acknowledged)
        return len(sent)
