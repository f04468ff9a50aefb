"""The instance registry: every projector (and stream-job) instance says where it runs, with a heartbeat (see
:class:`InstanceRegistry`)."""

from eventledger_runtime.instances.heartbeat import HeartbeatLoop, registration_for
from eventledger_runtime.instances.memory import InMemoryInstanceRegistry
from eventledger_runtime.instances.port import (
    FORGOTTEN_AFTER_SECONDS,
    HEARTBEAT_INTERVAL_SECONDS,
    PAUSED,
    RUNNING,
    STALE,
    STALE_AFTER_SECONDS,
    STALLED,
    Heartbeat,
    InstanceRecord,
    InstanceRegistry,
    PartitionProgress,
    Registration,
)
from eventledger_runtime.instances.postgres import PostgresInstanceRegistry

__all__ = [
    "FORGOTTEN_AFTER_SECONDS",
    "HEARTBEAT_INTERVAL_SECONDS",
    "PAUSED",
    "RUNNING",
    "STALE",
    "STALE_AFTER_SECONDS",
    "STALLED",
    "Heartbeat",
    "HeartbeatLoop",
    "InMemoryInstanceRegistry",
    "InstanceRecord",
    "InstanceRegistry",
    "PartitionProgress",
    "PostgresInstanceRegistry",
    "Registration",
    "registration_for",
]
