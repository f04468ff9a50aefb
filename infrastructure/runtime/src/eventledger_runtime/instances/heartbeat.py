"""An instance's side of the registry: register at start, beat every second from a thread of its own, deregister
on a clean stop."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from eventledger_runtime.instances.port import HEARTBEAT_INTERVAL_SECONDS, Heartbeat, InstanceRegistry, Registration

log = logging.getLogger(__name__)

_WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - recognised, not bound


def registration_for(projection: str, bind_host: str, port: int) -> Registration:
    """A new instance of ``projection`` whose operations endpoint listens on ``port`` (the bound one, never 0).

    Its id is the projection and a random suffix (a restarted process is a new instance). Its host is the bind host,
    or this machine's name when it listens on every interface.
    """
    if not 0 < port <= 65535:
        raise ValueError(f"register the port actually bound, not {port}")
    host = socket.getfqdn() if bind_host in _WILDCARDS else bind_host
    return Registration(
        instance_id=f"{projection}-{secrets.token_hex(4)}",
        projection=projection,
        host=host,
        port=port,
        pid=os.getpid(),
        started_at=datetime.now(UTC),
    )


class HeartbeatLoop:
    """Beats ``report()`` every ``interval`` seconds, and at once after :meth:`nudge`, for the registration given to
    :meth:`start` (made once the operations endpoint has bound its port; :meth:`nudge` works before).

    A beat that fails (the database is down) is logged once and tried again at the next interval: the worker goes on
    regardless, and the admin view lists it as stale meanwhile. :meth:`close` stops the loop and deregisters.
    """

    def __init__(
        self,
        registry: InstanceRegistry,
        report: Callable[[], Heartbeat],
        *,
        interval: float = HEARTBEAT_INTERVAL_SECONDS,
    ) -> None:
        self.registry = registry
        self.registration: Registration | None = None
        self._report = report
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.beats = 0

    def start(self, registration: Registration) -> HeartbeatLoop:
        self.registration = registration
        self._thread = threading.Thread(target=self._loop, name="instance-heartbeat", daemon=True)
        self._thread.start()
        return self

    def nudge(self) -> None:
        """Beat now (the state changed: an admin waits to see it)."""
        self._wake.set()

    def beat_once(self) -> bool:
        """One beat; False (logged) when it could not be written."""
        registration = self.registration
        assert registration is not None, "start() first"
        try:
            self.registry.beat(registration, self._report())
        except Exception as error:
            if not self._failing:
                log.warning("instance %s: cannot beat yet: %s", registration.instance_id, error)
            self._failing = True
            return False
        if self._failing or self.beats == 0:
            log.info("instance %s registered (ops %s)", registration.instance_id, registration.address)
        self._failing = False
        self.beats += 1
        return True

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.beat_once()
            self._wake.wait(self._interval)
            self._wake.clear()

    def close(self) -> None:
        """Stop beating and deregister (best effort: an instance that cannot deregister turns stale)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is None or self.registration is None:
            return
        self._thread.join(10)
        try:
            self.registry.deregister(self.registration.instance_id)
        except Exception as error:
            log.warning("instance %s: cannot deregister: %s", self.registration.instance_id, error)
