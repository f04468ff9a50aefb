"""Rebuild the PostgreSQL read model from the event store, beside the live version, then switch atomically.

1. Create version N+1 (a new schema, every table, empty), state ``building``.
2. Replay the event store into it up to the relay's checkpoint, batch by batch, while the live version keeps
   serving and its projector keeps running. Repeat while the relay moved on by more than ``handover_lag`` events.
3. Hand over, in ONE transaction: lock the live pointer FOR UPDATE (live projector batches wait); read the live
   version's per-partition progress; replay the last few events up to ``target`` = the highest of the relay's
   checkpoint and every position the live version claims or has read; give the new version the live Kafka offsets
   with ``target`` as their position; re-point the views and the pointer. Commit.
4. Projectors see the switch at their next batch (``OffsetsMoved``), re-read the offsets and seek there. Events
   between those offsets and ``target`` are read again and skipped by the version guards.

Events of the current schema version are folded from their stored JSON, the others from their validated, upcast
envelopes (:func:`~eventledger_projections.postgres.fold.fact_of_row`, ADR 0039), personal fields opened on the way.

Why the offsets are right: every message before a live offset has a position at or below the live version's
``last_position`` for that partition, hence at or below ``target``, and every event at or below ``target`` is in the
new version. See docs/adr/0007-projection-runtime.md.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import Connection

from eventledger_projections.postgres.errors import is_transient_postgres_error
from eventledger_projections.postgres.fold import Fact, UnappliableEvent, fact_of_row
from eventledger_projections.postgres.schema import PROJECTION_NAME, ReadModelSchemas, Version
from eventledger_projections.postgres.writer import ReadModelWriter
from eventledger_projections.rebuild.port import (
    Rebuild,
    RebuildAlreadyRunning,
    RebuildConfig,
    RebuildListener,
    RebuildReport,
    SilentListener,
)
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_projections.runtime.pgprogress import PostgresProgress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostgresRebuildConfig(RebuildConfig):
    keep_retired: int = 1


class PostgresRebuild(Rebuild):
    def __init__(
        self,
        read_model_dsn: str,
        source: EventStoreSource,
        *,
        base_schema: str = "read_model",
        config: PostgresRebuildConfig | None = None,
        listener: RebuildListener | None = None,
        before_switch: Callable[[], None] | None = None,
    ) -> None:
        """``before_switch`` is a test seam: it runs after the bulk replay, just before the hand-over."""
        self._dsn = read_model_dsn
        self._source = source
        self._schemas = ReadModelSchemas(base_schema)
        self._config = config or PostgresRebuildConfig()
        self._listener = listener or SilentListener()
        self._before_switch = before_switch
        self._events = 0
        self._skipped = 0

    def run(self) -> RebuildReport:
        started = time.monotonic()
        with psycopg.connect(self._dsn, autocommit=True) as conn:
            self._take_lock(conn)
            self._schemas.ensure_base(conn)
            version = self._schemas.create_version(conn)
            writer = ReadModelWriter(version.schema)
            log.info("rebuilding the PostgreSQL read model into %s", version.schema)
            done = self._catch_up(conn, writer)
            if self._before_switch is not None:
                self._before_switch()
            previous, built_to = self._hand_over_and_switch(conn, version, writer, done)
            dropped = self._schemas.drop_retired(conn, self._config.keep_retired)
        return RebuildReport(
            read_model="postgres",
            version=version.number,
            where=version.schema,
            previous=previous.number if previous else None,
            events=self._events,
            built_to=built_to,
            seconds=time.monotonic() - started,
            skipped=self._skipped,
            dropped=tuple(dropped),
        )

    def _take_lock(self, conn: Connection[Any]) -> None:
        """A session lock, released when the connection closes (also if this process dies)."""
        key = zlib.crc32(f"eventledger-rebuild:{self._schemas.base}".encode())
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
        if not row or not row[0]:
            raise RebuildAlreadyRunning(f"a rebuild of {self._schemas.base} is already running")

    def _catch_up(self, conn: Connection[Any], writer: ReadModelWriter) -> int:
        """Replay up to the relay's checkpoint until it is within ``handover_lag`` of what was replayed."""
        done = 0
        target = self._source.relay_position()
        self._listener.planned(self._source.count(done, target))
        while True:
            done = self._replay(conn, writer, done, target)
            target = self._source.relay_position()
            if target - done <= self._config.handover_lag:
                return done
            self._listener.planned(self._source.count(done, target))

    def _hand_over_and_switch(
        self, conn: Connection[Any], version: Version, writer: ReadModelWriter, done: int
    ) -> tuple[Version | None, int]:
        """Answers the version that was live and the position the new one is built to."""
        with conn.transaction():
            live = self._schemas.live(conn, lock="update")  # live projectors' batches wait from here to commit
            live_rows = PostgresProgress(live.schema, PROJECTION_NAME).partitions(conn) if live else []
            target = max([self._source.relay_position(), done, *(row.reflects for row in live_rows)])
            self._listener.planned(self._source.count(done, target))
            self._replay(conn, writer, done, target)
            handed_over = [
                dataclasses.replace(row, last_position=target, caught_up_position=target) for row in live_rows
            ]
            PostgresProgress(version.schema, PROJECTION_NAME).restore(conn, handed_over)
            self._schemas.switch(conn, version, built_to=target)
        log.info("switched to %s at position %d (was %s)", version.schema, target, live)
        return live, target

    def _replay(self, conn: Connection[Any], writer: ReadModelWriter, after: int, upto: int) -> int:
        """Every event with ``after < position <= upto`` into ``writer``'s version; answers ``upto``."""
        while after < upto:
            facts = self.read(after, upto)
            if not facts:
                break  # the rest of the range holds only rolled-back positions
            self._write(conn, writer, facts)
            last = facts[-1].position
            assert last is not None
            after = last
            self._events += len(facts)
            self._listener.replayed(len(facts))
        return max(after, upto)

    def read(self, after: int, upto: int) -> list[Fact]:
        """The facts of a batch of the events with ``after < position <= upto``, in position order."""
        opener = self._source.opener
        return [fact_of_row(event, opener) for event in self._source.read_stored(after, upto, self._config.batch_size)]

    def _write(self, conn: Connection[Any], writer: ReadModelWriter, facts: list[Fact]) -> None:
        """One transaction (a savepoint inside the hand-over); an event that cannot be applied is skipped alone,
        logged and counted, as the live projector parks it."""
        try:
            with conn.transaction():
                writer.write(conn, facts)
            return
        except Exception as error:
            if is_transient_postgres_error(error) or not _event_fault(error):
                raise
        for fact in facts:
            try:
                with conn.transaction():
                    writer.write(conn, [fact])
            except Exception as error:
                if is_transient_postgres_error(error) or not _event_fault(error):
                    raise
                self._skipped += 1
                log.error("skipped %s at position %s: %s", fact.event_type, fact.position, error)


def _event_fault(error: Exception) -> bool:
    return isinstance(error, UnappliableEvent | psycopg.Error)
