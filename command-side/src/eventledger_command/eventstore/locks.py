"""Per-stream locks: in-process, keyed like the PostgreSQL advisory locks, always taken in ascending key order.

A command that must not meet a needless concurrency conflict runs its load, decision and append while it holds the
locks of the streams it will write (docs/adr/0017-hot-streams-serialised-per-stream.md). The in-process lock lets
only one thread per stream and process go further (to PostgreSQL's advisory lock, holding a pooled connection); the
others wait here without occupying a connection, so that a hot stream cannot starve the pool for other streams.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


def stream_lock_key(stream_id: str, scope: str = "") -> int:
    """A signed 64-bit advisory-lock key for ``stream_id`` in ``scope`` (the store's schema: advisory locks are
    per database, and stores in two schemas of one database must not contend), apart from the relay's keys."""
    digest = hashlib.blake2b("\x1f".join(("eventledger-stream", scope, stream_id)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def stream_lock_keys(stream_ids: Iterable[str], scope: str = "") -> list[int]:
    """The distinct keys of ``stream_ids`` in the one order every holder takes them in (no deadlock)."""
    return sorted({stream_lock_key(stream_id, scope) for stream_id in stream_ids})


class StreamLocks:
    """Reentrant-free mutual exclusion per key; a key's lock lives only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[int, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, keys: list[int]) -> Iterator[None]:
        """Hold the lock of every key in ``keys``, which must be ascending (see :func:`stream_lock_keys`)."""
        taken: list[int] = []
        try:
            for key in keys:
                self._acquire(key)
                taken.append(key)
            yield
        finally:
            for key in reversed(taken):
                self._release(key)

    def _acquire(self, key: int) -> None:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._locks[key] = (lock, users + 1)
        lock.acquire()

    def _release(self, key: int) -> None:
        with self._guard:
            lock, users = self._locks[key]
            lock.release()
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
