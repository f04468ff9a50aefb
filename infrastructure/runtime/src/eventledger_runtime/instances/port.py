"""The instance registry port: how the query service's admin view finds every running projector instance without
fixed ports (docs/adr/0020-projector-instance-registry.md).

Each instance registers itself when it starts and beats every :data:`HEARTBEAT_INTERVAL_SECONDS` with what it knows
of itself (state, assigned partitions, position, lag); it deregisters when it stops cleanly. An instance that was
killed stops beating: after :data:`STALE_AFTER_SECONDS` it is listed as stale, and after
:data:`FORGOTTEN_AFTER_SECONDS` it is not listed any more.

Both backends pass the same contract suite (tests/contract/test_instance_registry_contract.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

HEARTBEAT_INTERVAL_SECONDS = 1.0
"""How often an instance beats (and at once after a pause or a resume)."""
STALE_AFTER_SECONDS = 5.0
"""A heartbeat older than this means the instance is gone: five missed beats, well under the 10 s after which its
consumer group hands its partitions to the others (``EVENTLEDGER_KAFKA_SESSION_TIMEOUT_SECONDS``)."""
FORGOTTEN_AFTER_SECONDS = 600.0
"""A stale instance is listed this long after its last heartbeat (so an operator sees what died), then forgotten."""

RUNNING, PAUSED, STALLED, STALE = "running", "paused", "stalled", "stale"
"""An instance's states: the first three are what it reports of itself; ``stale`` is the registry's verdict on an
instance whose heartbeat is older than the bound, whatever it last said."""


@dataclass(frozen=True, slots=True)
class Registration:
    """Who an instance is and where its operations endpoint listens (the port it actually bound, so an ops port of
    0, an ephemeral one, works)."""

    instance_id: str
    projection: str
    host: str
    port: int
    pid: int
    started_at: datetime

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """One assigned partition: the next offset to apply and how many messages below the high watermark wait (None
    while the instance does not know yet: a projection that keeps no offsets learns them from its first batch)."""

    topic: str
    partition: int
    offset: int | None
    lag: int | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What an instance says of itself in each beat.

    ``position`` is the global position its read model reflects as the instance last computed it; ``lag_events`` the
    messages waiting in its assigned partitions; ``lag_seconds`` how old the last event it applied is while it is
    behind (0 when caught up); ``reason`` why it is stalled.
    """

    state: str = RUNNING
    position: int = 0
    lag_events: int = 0
    lag_seconds: float = 0.0
    partitions: tuple[PartitionProgress, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """A registered instance as listed: its registration, its last heartbeat, and how old that heartbeat is by the
    registry's clock (the database's, for PostgreSQL: one clock for every host)."""

    registration: Registration
    heartbeat: Heartbeat
    heartbeat_age: float
    stale: bool

    @property
    def state(self) -> str:
        return STALE if self.stale else self.heartbeat.state

    @property
    def live(self) -> bool:
        return not self.stale


class InstanceRegistry(ABC):
    """Where running instances say that they run.

    Contract:
    - ``beat(registration, heartbeat)`` records the instance's registration and latest heartbeat, stamped with the
      registry's clock. The first beat registers the instance; a later beat of an instance that is not registered
      (forgotten, or deregistered by mistake) registers it again. Beats of one instance replace each other.
    - ``deregister(instance_id)`` removes the instance at once (a clean stop); removing an unknown one does nothing.
    - ``instances(projection)`` lists the registered instances (of one projection, or of all when None), ordered by
      projection, then start time, then id, each with the age of its heartbeat. An instance whose heartbeat is older
      than ``stale_after`` seconds is ``stale``; one older than ``forgotten_after`` is not listed.
    - Heartbeats of different instances never overwrite each other; the registry keeps no other state.
    """

    @abstractmethod
    def beat(self, registration: Registration, heartbeat: Heartbeat) -> None:
        """Register ``registration`` (again, if needed) with ``heartbeat`` as its latest, stamped now."""

    @abstractmethod
    def deregister(self, instance_id: str) -> None:
        """Forget the instance now (it stopped cleanly)."""

    @abstractmethod
    def instances(self, projection: str | None = None) -> list[InstanceRecord]:
        """The registered instances, stale ones included, forgotten ones not (see the class contract)."""

    def close(self) -> None:  # noqa: B027 - backends without resources need not override
        """Release connections."""
