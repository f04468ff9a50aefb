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
totals move together in one script (the ``*.lua`` files beside this module): a replayed or duplicated event changes
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis

from eventledger_projections.lua import lua_script
from eventledger_projections.streaming.windows import KEEP_SECONDS, Posted, WindowCell

_HERE = "eventledger_projections.streaming"

COUNT_POSTING: Final = lua_script(_HERE, "raise_progress", "count_posting")
ADVANCE: Final = lua_script(_HERE, "raise_progress", "advance")
ACK_PUBLISHED: Final = lua_script(_HERE, "ack_published")


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
