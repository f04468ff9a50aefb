"""The projection runtime: the :class:`Projection` port a read model implements, and the runner that drives it
from Kafka (batching, retries, dead letters, pause/resume, metrics, position claims)."""

from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC, DeadLetterSink, EventLog
from eventledger_projections.runtime.port import (
    Applicable,
    ConsumedEvent,
    LogMessage,
    OffsetsMoved,
    ParkedMessage,
    PassedEvent,
    Projection,
    TopicPartition,
    decoded,
)
from eventledger_projections.runtime.runner import ProjectionRunner, RunnerConfig

__all__ = [
    "DEAD_LETTER_TOPIC",
    "Applicable",
    "ConsumedEvent",
    "DeadLetterSink",
    "EventLog",
    "LogMessage",
    "OffsetsMoved",
    "ParkedMessage",
    "PassedEvent",
    "Projection",
    "ProjectionRunner",
    "RunnerConfig",
    "TopicPartition",
    "decoded",
]
