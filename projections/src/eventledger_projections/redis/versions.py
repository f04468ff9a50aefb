"""Housekeeping of versions: the rebuild lock, listing versions, deleting a version's keys."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import redis

from eventledger_projections.rebuild.port import RebuildAlreadyRunning
from eventledger_projections.redis.connection import Scripts, run
from eventledger_projections.redis.keys import KeySpace

_UNLINK_CHUNK = 500


class RebuildLockLost(Exception):
    """The rebuild lock expired under us (the process stalled longer than its TTL): stop before harm is done."""


class RebuildLock:
    """A token lock with an expiry, so that a rebuild that dies frees the way after ``ttl_ms``."""

    def __init__(self, client: redis.Redis, scripts: Scripts, keys: KeySpace, ttl_ms: int) -> None:
        self._client = client
        self._scripts = scripts
        self._key = keys.rebuild_lock
        self._ttl_ms = ttl_ms
        self.token = uuid.uuid4().hex

    @contextlib.contextmanager
    def held(self) -> Iterator[RebuildLock]:
        if not self._client.set(self._key, self.token, nx=True, px=self._ttl_ms):
            raise RebuildAlreadyRunning(f"another rebuild holds {self._key}")
        try:
            yield self
        finally:
            run(self._scripts.release_lock, self.token, keys=[self._key])

    def renew(self) -> None:
        if not run(self._scripts.renew_lock, self.token, self._ttl_ms, keys=[self._key]):
            raise RebuildLockLost(f"the rebuild lock {self._key} expired")


def live_version(client: redis.Redis, keys: KeySpace) -> int | None:
    value = client.get(keys.live)
    return int(value) if value is not None else None


def versions(client: redis.Redis, keys: KeySpace) -> dict[int, str]:
    """Every version that has a meta hash, with its state (building, live, retired)."""
    found: dict[int, str] = {}
    for key in client.scan_iter(match=keys.meta_pattern, count=1000):
        version = keys.parse_meta_key(key)
        if version is not None:
            found[version] = str(client.hget(key, "state") or "unknown")
    return found


def delete_version(client: redis.Redis, keys: KeySpace, version: int) -> int:
    """UNLINK every key of ``version`` (SCAN in pages: never a blocking KEYS); answers how many were deleted."""
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=keys.version_pattern(version), count=1000):
        batch.append(key)
        if len(batch) >= _UNLINK_CHUNK:
            deleted += int(client.unlink(*batch))
            batch = []
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted
