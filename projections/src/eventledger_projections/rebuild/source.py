"""The event store's log as a rebuild reads it: envelopes, by position, up to a settled bound.

The reading itself is the runtime kit's :class:`~eventledger_runtime.eventlog.EventLogReader` (one port, one
PostgreSQL implementation for every reader of the log); this adapter answers the rebuild's questions in its terms.
Only positions up to a *settled* bound are read (the port's contract): the relay's checkpoint, a position already
published to Kafka, or the reader's ``safe_head()``. Every position at or below such a bound is decided, so reading
``position <= bound`` in order skips nothing, filtered by type or not.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from eventledger_events import EventEnvelope
from eventledger_runtime.eventlog import RELAY_CHECKPOINT, EventLogReader, LoggedEvent
from eventledger_runtime.personal.opener import Opener, PersonalDataOpener, opener_of_log


class EventStoreSource:
    """Envelopes from ``log`` (which this source closes). ``event_types`` restricts what is read (a read model that
    depends on few types skips decoding the rest); ``trusted`` builds envelopes without repeating the checks the
    event store already enforced (:meth:`~eventledger_runtime.eventlog.LoggedEvent.trusted_envelope`). Personal
    fields are opened with the keys of the log's database (:func:`~eventledger_runtime.personal.opener_of_log`), or
    with ``opener``."""

    def __init__(
        self,
        log: EventLogReader,
        *,
        relay_checkpoint: str = RELAY_CHECKPOINT,
        event_types: Collection[str] | None = None,
        trusted: bool = False,
        opener: Opener | None = None,
    ) -> None:
        self.log = log
        self.opener = opener or opener_of_log(log)
        self._checkpoint = relay_checkpoint
        self._types = list(event_types) if event_types is not None else None
        self._trusted = trusted

    def relay_position(self) -> int:
        """Every event at or below this position is decided and published (0 when the relay never ran)."""
        return self.log.checkpoint(self._checkpoint)

    def count(self, after: int, upto: int) -> int:
        return self.log.count(after, upto, event_types=self._types)

    def read(self, after: int, upto: int, limit: int) -> list[EventEnvelope]:
        """Up to ``limit`` events with ``after < position <= upto``, in position order, upcast to current versions."""
        events = self.log.read_range(after, upto, limit=limit, event_types=self._types)
        envelopes = [event.trusted_envelope() if self._trusted else event.envelope() for event in events]
        if isinstance(self.opener, PersonalDataOpener):
            return self.opener.open_all(envelopes)  # a page's keys in one query
        return [self.opener(envelope) for envelope in envelopes]

    def read_stored(self, after: int, upto: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` events with ``after < position <= upto`` as stored (not decoded, not opened), in position
        order; the keys of their sealed values are looked up first, in one query, for :attr:`opener`."""
        events = self.log.read_range(after, upto, limit=limit, event_types=self._types)
        if isinstance(self.opener, PersonalDataOpener):
            self.opener.prefetch(sealed_key_ids(events))
        return events

    def close(self) -> None:
        self.log.close()


_SEALED_IN_JSON = re.compile(rb'"pii:1:([0-9a-f]{32}):')


def sealed_key_ids(events: Sequence[LoggedEvent]) -> list[str]:
    """The outer key ids of the sealed values in the stored rows (read from their JSON text, without parsing)."""
    return [match.decode() for event in events for match in _SEALED_IN_JSON.findall(_raw(event.payload))]


def _raw(payload: str | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode()
