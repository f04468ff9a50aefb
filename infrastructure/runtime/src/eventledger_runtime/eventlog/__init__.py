"""The event-log reader: one port for every reader of the global log (see :class:`EventLogReader`)."""

from eventledger_runtime.eventlog.memory import InMemoryEventLog
from eventledger_runtime.eventlog.port import RELAY_CHECKPOINT, Deposed, EventLogReader
from eventledger_runtime.eventlog.postgres import PostgresEventLogReader
from eventledger_runtime.eventlog.records import LoggedEvent, decode_envelope

__all__ = [
    "RELAY_CHECKPOINT",
    "Deposed",
    "EventLogReader",
    "InMemoryEventLog",
    "LoggedEvent",
    "PostgresEventLogReader",
    "decode_envelope",
]
