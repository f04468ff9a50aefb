"""The instance registry in memory: for unit tests, and whatever runs in one process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from eventledger_runtime.instances.port import (
    FORGOTTEN_AFTER_SECONDS,
    STALE_AFTER_SECONDS,
    Heartbeat,
    InstanceRecord,
    InstanceRegistry,
    Registration,
)


class InMemoryInstanceRegistry(InstanceRegistry):
    """Heartbeats stamped by ``clock`` (seconds; a test may move it by hand)."""

    def __init__(
        self,
        *,
        stale_after: float = STALE_AFTER_SECONDS,
        forgotten_after: float = FORGOTTEN_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stale_after = stale_after
        self._forgotten_after = forgotten_after
        self._clock = clock
        self._beats: dict[str, tuple[Registration, Heartbeat, float]] = {}
        self._lock = threading.Lock()

    def beat(self, registration: Registration, heartbeat: Heartbeat) -> None:
        with self._lock:
            self._beats[registration.instance_id] = (registration, heartbeat, self._clock())

    def deregister(self, instance_id: str) -> None:
        with self._lock:
            self._beats.pop(instance_id, None)

    def instances(self, projection: str | None = None) -> list[InstanceRecord]:
        now = self._clock()
        with self._lock:
            beats = list(self._beats.values())
        records = [
            InstanceRecord(registration, heartbeat, max(0.0, now - at), now - at > self._stale_after)
            for registration, heartbeat, at in beats
            if (projection is None or registration.projection == projection) and now - at <= self._forgotten_after
        ]
        return sorted(
            records, key=lambda r: (r.registration.projection, r.registration.started_at, r.registration.instance_id)
        )
