"""The windowed figures the stream job keeps in Redis (docs/adr/0010): transfers per minute (tumbling one-minute
windows) and volume per currency over five minutes (hopping every minute).

Keys under ``<base>:stream:``: ``index:<window>`` lists ``<start>:<currency>`` members scored by the window start;
``w:<window>:<start>:<currency>`` holds ``transfers`` and ``volume`` (totals over the source partitions).
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis

from eventledger_projections.streaming.windows import TRANSFERS_PER_MINUTE, VOLUME_FIVE_MINUTES


class WindowFigures:
    def __init__(self, client: Redis, base: str) -> None:
        self._client = client
        self._prefix = f"{base}:stream:"

    def _latest(self, window: str, size: int, now: float) -> tuple[int, dict[str, dict[str, int]]]:
        """The window that contains now and started earliest (so it covers the last ``size`` seconds best): its
        start and its cells by currency."""
        index = self._prefix + "index:" + window
        members: list[str] = self._client.zrangebyscore(index, f"({now - size}", now)  # type: ignore[assignment]
        if not members:
            return 0, {}
        start = min(int(member.split(":", 1)[0]) for member in members)
        pipe = self._client.pipeline(transaction=False)
        chosen = [m for m in members if int(m.split(":", 1)[0]) == start]
        for member in chosen:
            pipe.hmget(f"{self._prefix}w:{window}:{member}", "transfers", "volume")
        cells = {}
        for member, (transfers, volume) in zip(chosen, pipe.execute(), strict=True):
            cells[member.split(":", 1)[1]] = {"transfers": int(transfers or 0), "volume": int(volume or 0)}
        return start, cells

    def latest(self) -> dict[str, Any]:
        now = time.time()
        minute_start, minute = self._latest(TRANSFERS_PER_MINUTE.name, TRANSFERS_PER_MINUTE.size, now)
        five_start, five = self._latest(VOLUME_FIVE_MINUTES.name, VOLUME_FIVE_MINUTES.size, now)
        return {
            "transfers_per_minute": sum(cell["transfers"] for cell in minute.values()),
            "minute_started_at": minute_start,
            "volume_per_currency_5m": {currency: cell["volume"] for currency, cell in sorted(five.items())},
            "five_minutes_started_at": five_start,
        }
