"""The event store read straight into apply-script operations, page by page, for rebuilds.

The rebuild's time goes into decoding: building validated envelopes costs several times what Redis spends applying
them. These rows were validated when they were appended (the command side writes only valid payloads, and the
table refuses changes), so an event of its type's *current* schema version is mapped from its stored JSON with the
same table as the live path (:func:`~eventledger_projections.redis.operations.operation_of`). An older version, or
a row the shortcut cannot read, takes the full path (upcast, validated envelope), which raises for a bad event.

Personal fields are opened on the way, on the stored JSON as on an envelope (the same opener, one call where the
payload is decoded).

The rows come from the event-log reader's ``read_range``, so ``upto`` must be settled (the relay's checkpoint or a
position published to Kafka): nothing is skipped. The next page is read in a thread while the caller applies the
current one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC

import orjson

from eventledger_events import current_version
from eventledger_projections.rebuild.source import sealed_key_ids
from eventledger_projections.redis.operations import Operation, operation, operation_of
from eventledger_runtime.eventlog import EventLogReader, LoggedEvent
from eventledger_runtime.personal.opener import Opener, PersonalDataOpener, opener_of_log, unopened

log = logging.getLogger(__name__)


@dataclass
class Page:
    """The operations of up to ``limit`` events; ``last`` is the highest position read (0: the range is empty)."""

    operations: list[Operation] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    last: int = 0
    events: int = 0


class OperationPages:
    """Pages of operations from the event store's log (``log`` stays its owner's to close); ``opener`` opens the
    personal fields (default: with the keys of the log's database)."""

    def __init__(self, log: EventLogReader, opener: Opener | None = None) -> None:
        self._log = log
        self._opener = opener or opener_of_log(log)

    def read(self, after: int, upto: int, limit: int) -> Page:
        """The events with ``after < position <= upto``, up to ``limit``, in position order."""
        events = self._log.read_range(after, upto, limit=limit)
        page = Page(events=len(events), last=events[-1].position if events else 0)
        if isinstance(self._opener, PersonalDataOpener):
            self._opener.prefetch(sealed_key_ids(events))  # the page's keys in one query
        for event in events:
            try:
                page.operations.append(row_operation(event, self._opener))
            except Exception as error:
                page.refused.append(
                    f"{event.event_type}.v{event.schema_version} at position {event.position}:"
                    f" {type(error).__name__}: {error}"
                )
        return page

    def pages(self, after: int, upto: int, limit: int) -> Iterator[Page]:
        """Every page of ``after < position <= upto``; the next one is read while the caller works on this one."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-pages") as reader:
            pending = reader.submit(self.read, after, upto, limit)
            while True:
                page = pending.result()
                if page.events == 0:
                    return
                if page.last < upto:
                    pending = reader.submit(self.read, page.last, upto, limit)
                yield page
                if page.last >= upto:
                    return


def row_operation(event: LoggedEvent, opener: Opener = unopened) -> Operation:
    """The operation of one stored event (see the module's note on trusting the stored JSON)."""
    if event.schema_version == current_version(event.event_type):
        at = event.recorded_at.astimezone(UTC).isoformat()
        data = orjson.loads(event.payload)
        if isinstance(opener, PersonalDataOpener):
            data = opener.open_data(event.event_type, event.schema_version, data)
        try:
            return operation_of(
                event.event_type, event.stream_id, event.stream_version, event.position, at, data.__getitem__
            )
        except (KeyError, TypeError) as error:
            log.warning("event at position %s needs the full decode: %s", event.position, error)
    return operation(opener(event.envelope()))
