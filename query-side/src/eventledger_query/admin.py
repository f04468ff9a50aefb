"""Operations for the role ``admin``: each projection's position, lag (events and seconds) and state with the instances
that run it, pause and resume of every live instance, and rebuilds from the event store (run as a child process with
its own log).

The instances are found in the instance registry (``eventledger_runtime.instances``), where each projector instance
registers the operations port it actually listens on and beats every second: no port is fixed here
(docs/adr/0020-projector-instance-registry.md).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from eventledger_projections.bootstrap import PROJECTIONS
from eventledger_runtime.eventlog import EventLogReader
from eventledger_runtime.instances import (
    HEARTBEAT_INTERVAL_SECONDS,
    PAUSED,
    RUNNING,
    STALLED,
    InstanceRecord,
    InstanceRegistry,
)

log = logging.getLogger(__name__)

UNREACHABLE, PARTLY_PAUSED = "unreachable", "partly paused"
"""Projection states besides an instance's own: no live instance; some live instances paused, others not."""
ACTION_SETTLE_SECONDS = 3 * HEARTBEAT_INTERVAL_SECONDS
"""How long pause and resume wait for every instance they reached to report the new state in a heartbeat (each
instance beats at once after an action; this bounds a beat that is late)."""
OPS_TIMEOUT_SECONDS = 3.0


@dataclass
class Rebuild:
    process: subprocess.Popen[bytes]
    log: Path
    started_at: datetime

    def state(self) -> dict[str, Any]:
        code = self.process.poll()
        outcome = "running" if code is None else ("succeeded" if code == 0 else f"failed (exit {code})")
        tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.exists() else []
        return {"state": outcome, "started_at": self.started_at.isoformat(), "last_line": tail[0] if tail else ""}


@dataclass(frozen=True)
class ActionOutcome:
    """Which live instances a pause or resume reached, and which did not answer."""

    reached: tuple[str, ...]
    unanswered: tuple[str, ...]


@dataclass
class Operations:
    """The admin view over the instance registry, the event log (for the head) and each read model's own reflected
    position (``positions``: what ``X-Min-Position`` waits for)."""

    registry: InstanceRegistry
    event_log: EventLogReader
    positions: Mapping[str, Callable[[], int]]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=OPS_TIMEOUT_SECONDS))
    projections: tuple[str, ...] = tuple(sorted(PROJECTIONS))
    rebuilds: dict[str, Rebuild] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

    def names(self) -> list[str]:
        return list(self.projections)

    def close(self) -> None:
        self.http.close()

    def status(self, name: str) -> dict[str, Any]:
        """Position, lag in events and seconds, and state of one projection, with every registered instance."""
        instances = self.registry.instances(name)
        live = [record for record in instances if record.live]
        state, reason = _projection_state(live)
        position = self._position(name, live)
        head, oldest_pending = self._head_after(position)
        body: dict[str, Any] = {"projection": name, "head_position": head, "state": state}
        if position is None:
            body.update(position=None, lag_events=None, lag_seconds=None)
        else:
            lag_seconds = (datetime.now(UTC) - oldest_pending).total_seconds() if oldest_pending else 0.0
            body.update(
                position=position,
                lag_events=max(0, head - position),
                lag_seconds=round(max(0.0, lag_seconds), 3),
            )
        if reason is not None:
            body["reason"] = reason  # why it is stalled (eventledger_runtime.watchdog)
        body["instances"] = [_instance(record) for record in instances]
        if name in self.rebuilds:
            body["rebuild"] = self.rebuilds[name].state()
        return body

    def _position(self, name: str, live: Sequence[InstanceRecord]) -> int | None:
        """The read model's own reflected position; if its store does not answer, the highest a live instance
        reported (None when neither is known)."""
        try:
            return self.positions[name]()
        except Exception as error:
            log.info("%s: reflected position not readable from the store: %s", name, error)
        return max((record.heartbeat.position for record in live), default=None)

    def _head_after(self, position: int | None) -> tuple[int, datetime | None]:
        """The event store's head, and when the oldest event after ``position`` was recorded (None: none)."""
        head = self.event_log.head_position()
        if position is None or position >= head:
            return head, None
        oldest = self.event_log.read_range(position, head, limit=1)
        return head, oldest[0].recorded_at if oldest else None

    def act(self, name: str, action: str) -> ActionOutcome:
        """Pause or resume every live instance of ``name`` through its operations endpoint, then wait (bounded) until
        the heartbeat of each one reached shows the new state."""
        reached, unanswered = [], []
        for record in self.registry.instances(name):
            if not record.live:
                continue
            try:
                self.http.post(f"http://{record.registration.address}/{action}").raise_for_status()
                reached.append(record.registration.instance_id)
            except httpx.HTTPError as error:
                log.warning("%s: instance %s did not %s: %s", name, record.registration.instance_id, action, error)
                unanswered.append(record.registration.instance_id)
        self._settle(name, set(reached), paused=action == "pause")
        return ActionOutcome(tuple(reached), tuple(unanswered))

    def _settle(self, name: str, instance_ids: set[str], *, paused: bool) -> None:
        deadline = time.monotonic() + ACTION_SETTLE_SECONDS
        while instance_ids and time.monotonic() < deadline:
            pending = [
                record
                for record in self.registry.instances(name)
                if record.registration.instance_id in instance_ids
                and record.live
                and (record.heartbeat.state == PAUSED) != paused
            ]
            if not pending:
                return
            self.sleep(0.05)

    def rebuild(self, name: str) -> dict[str, Any]:
        running = self.rebuilds.get(name)
        if running is not None and running.process.poll() is None:
            return running.state()
        log_path = Path(tempfile.gettempdir()) / f"eventledger-rebuild-{name}-{int(time.time())}.log"
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "eventledger_projections", "rebuild", name],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.rebuilds[name] = Rebuild(process, log_path, datetime.now(UTC))
        return self.rebuilds[name].state()


def _projection_state(live: Sequence[InstanceRecord]) -> tuple[str, str | None]:
    """A projection's state from its live instances' own, and why it is stalled."""
    if not live:
        return UNREACHABLE, None
    stalled = [record for record in live if record.heartbeat.state == STALLED]
    if stalled:
        return STALLED, stalled[0].heartbeat.reason
    paused = sum(1 for record in live if record.heartbeat.state == PAUSED)
    if paused == len(live):
        return PAUSED, None
    return (PARTLY_PAUSED, None) if paused else (RUNNING, None)


def _instance(record: InstanceRecord) -> dict[str, Any]:
    registration, heartbeat = record.registration, record.heartbeat
    return {
        "instance_id": registration.instance_id,
        "address": registration.address,
        "pid": registration.pid,
        "started_at": registration.started_at.isoformat(),
        "state": record.state,
        **({"reason": heartbeat.reason} if heartbeat.reason else {}),
        "position": heartbeat.position,
        "lag_events": heartbeat.lag_events,
        "lag_seconds": heartbeat.lag_seconds,
        "heartbeat_age_seconds": round(record.heartbeat_age, 3),
        "partitions": [
            {"topic": p.topic, "partition": p.partition, "offset": p.offset, "lag": p.lag} for p in heartbeat.partitions
        ],
    }
