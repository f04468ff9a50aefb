"""The windowed figures the stream job keeps in Redis (docs/adr/0010): transfers per minute (tumbling one-minute
windows) and volume per currency over five minutes (hopping every minute), and the last hour minute by minute (the
dashboard's charts, ADR 0029).

Keys under ``<base>:stream:``: ``index:<window>`` lists ``<start>:<currency>`` members scored by the window start;
``w:<window>:<start>:<currency>`` holds ``transfers`` and ``volume`` (totals over the source partitions).
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis

from eventledger_projections.streaming.windows import TRANSFERS_PER_MINUTE, VOLUME_FIVE_MINUTES

LAST_HOUR_MINUTES = 60
"""How many one-minute windows :meth:`WindowFigures.last_hour` answers (the current minute included); the stream
job keeps each window ``KEEP_SECONDS`` (an hour) after it ends."""


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

    def last_hour(self, now: float | None = None) -> dict[str, Any]:
        """Transfers and volume per currency in each of the last :data:`LAST_HOUR_MINUTES` one-minute windows, in
        columns (what a chart takes): ``starts`` (epoch seconds, oldest first, the current minute last) and, per
        currency that posted in the hour, ``transfers`` and ``volume`` lists of the same length. A minute without
        postings counts 0. Windows are in event time (when the posting was recorded), as the stream job counts
        them; it keeps each window an hour after it ends, so the whole hour is in Redis."""
        step = TRANSFERS_PER_MINUTE.size
        last = int((time.time() if now is None else now) // step) * step
        starts = [last - step * n for n in range(LAST_HOUR_MINUTES - 1, -1, -1)]
        index = self._prefix + "index:" + TRANSFERS_PER_MINUTE.name
        members: list[str] = self._client.zrangebyscore(index, starts[0], last)  # type: ignore[assignment]
        pipe = self._client.pipeline(transaction=False)
        for member in members:
            pipe.hmget(f"{self._prefix}w:{TRANSFERS_PER_MINUTE.name}:{member}", "transfers", "volume")
        slot = {start: n for n, start in enumerate(starts)}
        transfers: dict[str, list[int]] = {}
        volume: dict[str, list[int]] = {}
        for member, (count, amount) in zip(members, pipe.execute() if members else [], strict=True):
            start, currency = member.split(":", 1)
            if count is None:  # the window expired between the index and the read
                continue
            transfers.setdefault(currency, [0] * len(starts))[slot[int(start)]] = int(count)
            volume.setdefault(currency, [0] * len(starts))[slot[int(start)]] = int(amount or 0)
        return {
            "window": TRANSFERS_PER_MINUTE.name,
            "step_seconds": step,
            "starts": starts,
            "transfers": dict(sorted(transfers.items())),
            "volume": dict(sorted(volume.items())),
        }
