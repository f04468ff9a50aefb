"""Operations for the role ``admin``: each projection's position, lag (events and seconds) and state, pause and
resume, and rebuilds from the event store (run as a child process with its own log)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from psycopg_pool import ConnectionPool

from eventledger_projections.bootstrap import PROJECTIONS


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


@dataclass
class Operations:
    pool: ConnectionPool
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: {name: spec.ops_port for name, spec in PROJECTIONS.items()})
    rebuilds: dict[str, Rebuild] = field(default_factory=dict)

    def names(self) -> list[str]:
        return sorted(self.ports)

    def _ops(self, name: str, path: str, method: str = "GET") -> dict[str, Any] | None:
        try:
            answer = httpx.request(method, f"http://{self.host}:{self.ports[name]}{path}", timeout=3.0)
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return body
        except (httpx.HTTPError, ValueError):
            return None

    def status(self, name: str) -> dict[str, Any]:
        """Position, lag in events and seconds, and state of one projection (``unreachable`` if it is down)."""
        reported = self._ops(name, "/status")
        head, oldest_pending = self._head_after(int(reported["reflected_position"]) if reported else None)
        body: dict[str, Any] = {"projection": name, "head_position": head}
        if reported is None:
            body.update(state="unreachable", position=None, lag_events=None, lag_seconds=None)
        else:
            position = int(reported["reflected_position"])
            lag_seconds = (datetime.now(UTC) - oldest_pending).total_seconds() if oldest_pending else 0.0
            body.update(
                state=reported["state"],
                position=position,
                lag_events=max(0, head - position),
                lag_seconds=round(max(0.0, lag_seconds), 3),
            )
            if reported.get("reason"):
                body["reason"] = reported["reason"]  # why it is stalled (eventledger_runtime.watchdog)
        if name in self.rebuilds:
            body["rebuild"] = self.rebuilds[name].state()
        return body

    def _head_after(self, position: int | None) -> tuple[int, datetime | None]:
        """The event store's head, and when the oldest event after ``position`` was recorded (None: none)."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            head = int(row[0]) if row else 0
            if position is None or position >= head:
                return head, None
            oldest = conn.execute(
                "SELECT recorded_at FROM events WHERE position > %s ORDER BY position LIMIT 1", [position]
            ).fetchone()
        return head, oldest[0] if oldest else None

    def act(self, name: str, action: str) -> bool:
        return self._ops(name, f"/{action}", "POST") is not None

    def rebuild(self, name: str) -> dict[str, Any]:
        running = self.rebuilds.get(name)
        if running is not None and running.process.poll() is None:
            return running.state()
        log = Path(tempfile.gettempdir()) / f"eventledger-rebuild-{name}-{int(time.time())}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "eventledger_projections", "rebuild", name],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.rebuilds[name] = Rebuild(process, log, datetime.now(UTC))
        return self.rebuilds[name].state()
