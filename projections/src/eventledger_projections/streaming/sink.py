"""The window cells in Redis, which hold them: a posting is counted by a script that compares its position with each
cell's mark (never a blind increment), the progress of each source partition, and a dirty set that the publisher
drains into the derived topic.

Keys (under ``<base>:stream:``, not versioned: they derive from Kafka, live an hour and are not rebuilt):

- ``w:<window>:<start>:<currency>``, hash: ``transfers``, ``volume`` (totals over the source partitions),
  ``revision`` (grows with every change), ``window``, ``start``, ``end`` (epoch seconds, end exclusive),
  ``currency``, and per source partition ``n:<p>``, ``v:<p>``, ``m:<p>`` (its cell: see :mod:`.windows`).
  Expires ``KEEP_SECONDS`` after the window ends.
- ``index:<window>``, sorted set: ``<start>:<currency>`` scored by ``start`` (to list the recent windows).
- ``dirty``, sorted set: ``<window>:<start>:<currency>`` scored by the revision still to publish.
- ``progress``, hash: source partition -> the offset up to which every message's effect is here (it only grows).
  The job resumes a partition after it, whatever offsets the consumer group holds. Recreating the source topic
  (offsets start again at 0) requires deleting this key.

A posting is counted in a cell only when its position is above the cell's mark, and the mark, the cell and the
totals move together in one script: a replayed or duplicated event changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis

from eventledger_projections.streaming.windows import KEEP_SECONDS, Posted, WindowCell

RAISE_PROGRESS: Final = """
local function raise_progress(progress, partition, offset)
  local stored = tonumber(redis.call('HGET', progress, partition))
  if stored == nil or tonumber(offset) > stored then
    redis.call('HSET', progress, partition, offset)
  end
end
"""
"""Lua: move a partition's progress up to ``offset``, never down (shared by the two scripts that move it)."""

COUNT_POSTING: Final = (
    RAISE_PROGRESS
    + """
-- ARGV: base, keep seconds, partition, offset, amount, position, then windows of 4 fields: window, start, end,
-- currency. Counts the posting in each window's cell of this partition whose mark is below its position, and
-- moves the partition's progress to the offset. Answers how many cells changed; refuses (ELOVERFLOW) a posting
-- that would overflow a total, before any write.
local p = ARGV[1] .. ':stream:'
local keep, part, offset = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local amount, position = ARGV[5], ARGV[6]
local changed, windows, keys = 0, {}, {}
-- Refuse before any write (a script is not rolled back): a total that would leave the 64-bit integers.
for i = 7, #ARGV, 4 do
  local key = p .. 'w:' .. ARGV[i] .. ':' .. ARGV[i + 1] .. ':' .. ARGV[i + 3]
  if (tonumber(redis.call('HGET', key, 'volume')) or 0) + tonumber(amount) >= 9e18 then
    return redis.error_reply('ELOVERFLOW the volume of ' .. key .. ' would overflow')
  end
  keys[i] = key
end
for i = 7, #ARGV, 4 do
  local window, start, finish, currency = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = keys[i]
  if tonumber(position) > (tonumber(redis.call('HGET', key, 'm:' .. part)) or 0) then
    redis.call('HSET', key, 'm:' .. part, position, 'window', window, 'start', start, 'end', finish,
      'currency', currency)
    redis.call('HINCRBY', key, 'n:' .. part, 1)
    redis.call('HINCRBY', key, 'v:' .. part, amount)
    redis.call('HINCRBY', key, 'transfers', 1)
    redis.call('HINCRBY', key, 'volume', amount)
    local revision = redis.call('HINCRBY', key, 'revision', 1)
    redis.call('EXPIREAT', key, tonumber(finish) + keep)
    redis.call('ZADD', p .. 'index:' .. window, start, start .. ':' .. currency)
    redis.call('ZADD', p .. 'dirty', revision, window .. ':' .. start .. ':' .. currency)
    windows[window] = true
    changed = changed + 1
  end
end
raise_progress(p .. 'progress', part, offset)
local now = tonumber(redis.call('TIME')[1])
for window in pairs(windows) do
  redis.call('ZREMRANGEBYSCORE', p .. 'index:' .. window, '-inf', '(' .. string.format('%d', now - 2 * keep))
end
return changed
"""
)

ADVANCE: Final = (
    RAISE_PROGRESS
    + """
-- ARGV: base, then (partition, offset) pairs: move each partition's progress up to the offset (never down).
for j = 2, #ARGV, 2 do
  raise_progress(ARGV[1] .. ':stream:progress', ARGV[j], ARGV[j + 1])
end
return 0
"""
)

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
class WindowFigures:
    """The totals of one window and currency, as published."""

    window: str
    start: int
    end: int
    currency: str
    transfers: int
    volume: int
    revision: int


def stream_prefix(base: str) -> str:
    """Where the stream job's keys live under the deployment's Redis key base."""
    return f"{base}:stream:"


def progress_key(base: str) -> str:
    """The hash: source partition -> the offset up to which every message's effect is in Redis."""
    return stream_prefix(base) + "progress"


class RedisWindowSink:
    """The job's Redis side (asyncio): counting postings, the partitions' progress, and reads for the publisher."""

    def __init__(self, client: aioredis.Redis, *, base: str = "el", keep_seconds: int = KEEP_SECONDS) -> None:
        self._client = client
        self._base = base
        self._keep = keep_seconds
        self._count = client.register_script(COUNT_POSTING)
        self._advance = client.register_script(ADVANCE)
        self._ack = client.register_script(ACK_PUBLISHED)

    @property
    def prefix(self) -> str:
        return stream_prefix(self._base)

    async def count(self, partition: int, offset: int, posted: Posted, windows: Sequence[WindowCell]) -> int:
        """Count the posting read at ``offset`` of ``partition`` in ``windows`` (one script call): answers how many
        cells changed (none when it was already counted). The partition's progress moves to ``offset``."""
        args: list[Any] = [self._base, self._keep, partition, offset, posted.amount, posted.position]
        for cell in windows:
            args += [cell.window, cell.start, cell.end, cell.currency]
        return int(await self._count(keys=[], args=[str(a) for a in args]))

    async def advance(self, offsets: Mapping[int, int]) -> None:
        """Move each partition's progress up to its offset: every message up to it has its effect here."""
        if offsets:
            args = [self._base, *(str(v) for pair in sorted(offsets.items()) for v in pair)]
            await self._advance(keys=[], args=args)

    async def progress(self, partition: int) -> int | None:
        """The offset up to which every message of ``partition`` has its effect here (``None``: nothing yet)."""
        stored: Any = await self._client.hget(progress_key(self._base), str(partition))
        return None if stored is None else int(stored)

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
