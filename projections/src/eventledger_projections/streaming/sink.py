"""Window figures into Redis: a compare-and-set per cell (never a blind increment), and a dirty set that the
publisher drains into the derived topic.

Keys (under ``<base>:stream:``, not versioned: they derive from Kafka, live an hour and are not rebuilt):

- ``w:<window>:<start>:<currency>``, hash: ``transfers``, ``volume`` (totals over the source partitions),
  ``revision`` (grows with every change), ``window``, ``start``, ``end`` (epoch seconds, end exclusive),
  ``currency``, and per source partition ``n:<p>``, ``v:<p>``, ``m:<p>`` (its cell). Expires ``KEEP_SECONDS``
  after the window ends.
- ``index:<window>``, sorted set: ``<start>:<currency>`` scored by ``start`` (to list the recent windows).
- ``dirty``, sorted set: ``<window>:<start>:<currency>`` scored by the revision still to publish.

A cell is written only when its mark ``m`` (the highest position folded in) grows; the totals move by the cell's
difference, so a replayed or duplicated event, whose cell comes back unchanged, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis

from eventledger_projections.streaming.windows import KEEP_SECONDS, Cell

WRITE_CELLS: Final = """
-- ARGV: base, keep seconds, then cells of 8 fields: window, start, end, currency, partition, n, v, m.
-- Answers how many cells changed.
local p = ARGV[1] .. ':stream:'
local keep = tonumber(ARGV[2])
local changed, windows = 0, {}
for i = 3, #ARGV, 8 do
  local window, start, finish, currency, part = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local member = window .. ':' .. start .. ':' .. currency
  local key = p .. 'w:' .. member
  local stored = redis.call('HMGET', key, 'm:' .. part, 'n:' .. part, 'v:' .. part)
  if tonumber(ARGV[i + 7]) > (tonumber(stored[1]) or 0) then
    local dn = tonumber(ARGV[i + 5]) - (tonumber(stored[2]) or 0)
    local dv = tonumber(ARGV[i + 6]) - (tonumber(stored[3]) or 0)
    redis.call('HSET', key, 'm:' .. part, ARGV[i + 7], 'n:' .. part, ARGV[i + 5], 'v:' .. part, ARGV[i + 6],
      'window', window, 'start', start, 'end', finish, 'currency', currency)
    redis.call('HINCRBY', key, 'transfers', string.format('%d', dn))
    redis.call('HINCRBY', key, 'volume', string.format('%d', dv))
    local revision = redis.call('HINCRBY', key, 'revision', 1)
    redis.call('EXPIREAT', key, tonumber(finish) + keep)
    redis.call('ZADD', p .. 'index:' .. window, start, start .. ':' .. currency)
    redis.call('ZADD', p .. 'dirty', revision, member)
    windows[window] = true
    changed = changed + 1
  end
end
local now = tonumber(redis.call('TIME')[1])
for window in pairs(windows) do
  redis.call('ZREMRANGEBYSCORE', p .. 'index:' .. window, '-inf', '(' .. string.format('%d', now - 2 * keep))
end
return changed
"""

ACK_PUBLISHED: Final = """
-- ARGV: base, then (member, revision) pairs: forget the members still dirty at the revision that was published.
local dirty = ARGV[1] .. ':stream:dirty'
local removed = 0
for j = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', dirty, ARGV[j])
  if score and tonumber(score) == tonumber(ARGV[j + 1]) then
    removed = removed + redis.call('ZREM', dirty, ARGV[j])
  end
end
return removed
"""


@dataclass(frozen=True, slots=True)
class CellWrite:
    """One window cell as the faust table now holds it."""

    window: str
    start: int
    end: int
    currency: str
    partition: int
    cell: Cell

    def arguments(self) -> list[str]:
        values = (self.window, self.start, self.end, self.currency, self.partition)
        return [*map(str, values), *(str(self.cell.get(k, 0)) for k in ("n", "v", "m"))]


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """The totals of one window and currency, as published."""

    window: str
    start: int
    end: int
    currency: str
    transfers: int
    volume: int
    revision: int


class RedisWindowSink:
    """The job's Redis side (asyncio). Every write is the ``WRITE_CELLS`` script; reads serve the publisher."""

    def __init__(self, client: aioredis.Redis, *, base: str = "el", keep_seconds: int = KEEP_SECONDS) -> None:
        self._client = client
        self._base = base
        self._keep = keep_seconds
        self._write = client.register_script(WRITE_CELLS)
        self._ack = client.register_script(ACK_PUBLISHED)

    @property
    def prefix(self) -> str:
        return f"{self._base}:stream:"

    async def write(self, cells: Sequence[CellWrite]) -> int:
        """Store the cells (one script call); answers how many changed."""
        args = [self._base, str(self._keep), *(a for cell in cells for a in cell.arguments())]
        return int(await self._write(keys=[], args=args))

    async def dirty(self, limit: int) -> list[tuple[str, int]]:
        """Up to ``limit`` windows changed since last published, oldest revision first: ``(member, revision)``."""
        rows: Any = await self._client.zrange(self.prefix + "dirty", 0, limit - 1, withscores=True)
        return [(str(member), int(score)) for member, score in rows]

    async def figures(self, members: Sequence[str]) -> list[WindowFigures | None]:
        """The totals of each dirty member (``None`` when its key already expired)."""
        fields = ("window", "start", "end", "currency", "transfers", "volume", "revision")
        pipe = self._client.pipeline(transaction=False)
        for member in members:
            pipe.hmget(self.prefix + "w:" + member, list(fields))
        found: list[WindowFigures | None] = []
        for row in await pipe.execute():
            if row[0] is None:
                found.append(None)
                continue
            window, start, end, currency, transfers, volume, revision = row
            found.append(
                WindowFigures(
                    str(window), int(start), int(end), str(currency), int(transfers), int(volume), int(revision)
                )
            )
        return found

    async def acknowledge(self, published: Sequence[tuple[str, int]]) -> int:
        """Forget the published ``(member, revision)`` pairs that did not change meanwhile."""
        if not published:
            return 0
        args = [self._base, *(str(v) for pair in published for v in pair)]
        return int(await self._ack(keys=[], args=args))
