"""No silent stall: a long-running worker watches its own progress against the head of what it follows.

A worker (the relay, a projector, the stream job) is *stalled* when it is behind its head and its position has not
moved for ``stall_seconds`` while it was not paused. Then the watchdog says so everywhere an operator looks: an
error line in the log, ``/readyz`` fails with the reason, ``eventledger_worker_stalled`` is 1 (and
``eventledger_worker_stalls_total`` counts it), the worker's status says ``stalled``. After ``exit_grace_seconds``
it recovers the only way that cures every cause: it asks the worker to stop, and the process exits with
:data:`EXIT_STALLED`, which the supervisor (or Kubernetes) turns into a restart. Every worker resumes from durable
progress, so a restart is always safe.

A sample that cannot be taken (the worker's store or Kafka does not answer) is no evidence of a stall: the clock
restarts at the next sample that can. A store that is down is what ``/readyz`` reports, not a stall.
docs/adr/0015-no-silent-stall.md tells why.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from eventledger_runtime.settings import WatchdogSettings

log = logging.getLogger(__name__)

EXIT_STALLED = 75  # EX_TEMPFAIL: a temporary failure; run me again

STALLED = Gauge("eventledger_worker_stalled", "1 while the worker is behind its head and not moving", ["worker"])
STALLS = Counter("eventledger_worker_stalls_total", "Stalls the worker detected in itself", ["worker"])
BEHIND = Gauge("eventledger_worker_behind_events", "Head minus position at the last sample", ["worker"])


@dataclass(frozen=True)
class Sample:
    """What a worker reports of itself: the head it follows, where it is, whether an operator paused it, whether it
    stands by while another instance does the work (a relay that does not lead)."""

    head: int
    position: int
    paused: bool = False
    standby: bool = False
    applied: int | None = None
    """How far the worker got in its own share of the work (a projector: the sum of its assigned partitions' next
    offsets), for a worker whose ``position`` is a minimum over shares that one slow share holds still."""
    backlog: bool = False
    """Its own share is behind what it follows (a projector: an assigned partition below its high watermark). A
    worker with a backlog whose ``applied`` moves is catching up, not stalled; without a backlog, work done does not
    excuse a position that does not move (issue 17: events applied, the position frozen)."""


@dataclass(frozen=True)
class Verdict:
    state: str  # "running" | "paused" | "standby" | "stalled" | "unknown"
    reason: str = ""

    @property
    def stalled(self) -> bool:
        return self.state == "stalled"


class StallDetector:
    """The pure rule. Feed it samples (or ``None`` for one that could not be taken) with the time they were taken."""

    def __init__(self, stall_seconds: float) -> None:
        self._stall_seconds = stall_seconds
        self._position: int | None = None
        self._applied: int | None = None
        self._since: float | None = None
        self.verdict = Verdict("unknown", "no sample yet")

    def observe(self, now: float, sample: Sample | None) -> Verdict:
        if sample is None:
            self._since = None  # a dependency is down: no evidence either way
            self.verdict = Verdict("unknown", "cannot sample the position or the head")
            return self.verdict
        behind = sample.head - sample.position
        catching_up = sample.backlog and sample.applied is not None and sample.applied != self._applied
        moved = sample.position != self._position or catching_up
        self._position, self._applied = sample.position, sample.applied
        if sample.standby:  # not its work to move: the leader is watched by its own watchdog
            self._since = None
            self.verdict = Verdict("standby")
            return self.verdict
        if sample.paused or behind <= 0 or moved or self._since is None:
            self._since = now
            self.verdict = Verdict("paused" if sample.paused else "running")
            return self.verdict
        still = now - self._since
        if still >= self._stall_seconds:
            self.verdict = Verdict(
                "stalled",
                f"{behind} behind (position {sample.position}, head {sample.head}) and not moving for {still:.0f} s",
            )
        else:
            self.verdict = Verdict("running")
        return self.verdict


def unless_kafka_is_down(kafka_answers: Callable[[], bool], sample: Callable[[], Sample]) -> Callable[[], Sample]:
    """A sampler that takes no sample while no Kafka broker answers: a worker waiting out a Kafka outage is not
    stalled (its /readyz says why it is not ready). A broker that answers while the worker does not move is."""

    def sample_if_kafka_answers() -> Sample:
        if not kafka_answers():
            raise ConnectionError("no Kafka broker answers")
        return sample()

    return sample_if_kafka_answers


class Watchdog:
    """Samples a worker from a daemon thread and recovers it when it stalls.

    ``sample`` must be safe to call from another thread and should use connections of its own. ``stop`` asks the
    worker to finish; if the process is still alive ``exit_grace_seconds`` after that, it exits hard (every worker
    survives SIGKILL, so this loses nothing).
    """

    def __init__(
        self,
        worker: str,
        sample: Callable[[], Sample],
        stop: Callable[[], None],
        settings: WatchdogSettings | None = None,
        *,
        exit: Callable[[int], None] = os._exit,
    ) -> None:
        self.worker = worker
        self._sample = sample
        self._stop = stop
        self._settings = settings or WatchdogSettings()
        self._exit = exit
        self._detector = StallDetector(self._settings.stall_seconds)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{worker}", daemon=True)
        self.stall_reason: str | None = None
        self.last_sample: Sample | None = None
        STALLED.labels(worker).set(0)

    @property
    def verdict(self) -> Verdict:
        if self.stall_reason is not None:
            return Verdict("stalled", self.stall_reason)
        return self._detector.verdict

    def status(self) -> dict[str, object]:
        """For a worker's ``/status``: its state, why it is stalled, and the last sample."""
        verdict, sample = self.verdict, self.last_sample
        return {
            "state": verdict.state,
            **({"reason": verdict.reason} if verdict.stalled else {}),
            **({"head": sample.head, "position": sample.position} if sample is not None else {}),
        }

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def close(self) -> None:
        self._halt.set()

    def check(self, now: float | None = None) -> Verdict:
        """Take one sample and judge it (the thread calls this every ``interval_seconds``)."""
        try:
            sample: Sample | None = self._sample()
        except Exception as error:
            log.debug("%s: cannot sample progress: %s", self.worker, error)
            sample = None
        if sample is not None:
            self.last_sample = sample
            BEHIND.labels(self.worker).set(max(0, sample.head - sample.position))
        return self._detector.observe(time.monotonic() if now is None else now, sample)

    def _run(self) -> None:
        while not self._halt.wait(self._settings.interval_seconds):
            verdict = self.check()
            if verdict.stalled:
                self._recover(verdict.reason)
                return

    def _recover(self, reason: str) -> None:
        self.stall_reason = reason
        STALLED.labels(self.worker).set(1)
        STALLS.labels(self.worker).inc()
        log.error("%s is stalled: %s; restarting in %.0f s", self.worker, reason, self._settings.exit_grace_seconds)
        if self._halt.wait(self._settings.exit_grace_seconds):
            return
        log.error("%s: stopping so that it is restarted (exit %d)", self.worker, EXIT_STALLED)
        self._stop()
        if not self._halt.wait(max(self._settings.exit_grace_seconds, 5.0)):
            log.error("%s: did not stop in time; exiting now", self.worker)
            logging.shutdown()
            self._exit(EXIT_STALLED)
