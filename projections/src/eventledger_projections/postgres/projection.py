"""The PostgreSQL read model as a :class:`~eventledger_projections.runtime.port.Projection`.

Each batch is one transaction: lock the live-version pointer FOR SHARE (a switch waits for the batch, or the batch
sees the switch and raises ``OffsetsMoved``), fold and write the rows, and advance the per-partition progress.
The progress rows are the authoritative offsets, so the effect is exactly once whatever happens to Kafka commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import psycopg
from psycopg import Connection
from psycopg_pool import ConnectionPool

from eventledger_projections.postgres import erasure
from eventledger_projections.postgres.errors import is_transient_postgres_error
from eventledger_projections.postgres.fold import Fact, erased_accounts, fact_of_envelope, fact_of_record
from eventledger_projections.postgres.schema import PROJECTION_NAME, ReadModelSchemas, Version
from eventledger_projections.postgres.writer import ReadModelWriter
from eventledger_projections.runtime.pgprogress import PostgresProgress
from eventledger_projections.runtime.port import (
    Applicable,
    ConsumedEvent,
    OffsetsMoved,
    ParkedMessage,
    Projection,
    RecordEvent,
    TopicPartition,
)


class PostgresProjection(Projection):
    """Writes the PostgreSQL read model (its reader is the query side's ``PostgresReadModelReader``)."""

    name: ClassVar[str] = PROJECTION_NAME
    reads_records = True
    """Events of the current schema version are folded from their Avro records (ADR 0039), as the rebuild folds
    stored rows: no payload model, no envelope; older versions arrive as envelopes (upcast)."""

    def __init__(self, dsn: str, *, base_schema: str = "read_model", pool_size: int = 2) -> None:
        self.schemas = ReadModelSchemas(base_schema)
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, open=True, kwargs={"autocommit": True}, name="read-model"
        )
        with self._pool.connection() as conn:
            self._use(self.schemas.ensure_live(conn))

    def _use(self, version: Version) -> None:
        self.version = version
        self._writer = ReadModelWriter(version.schema)
        self._progress = PostgresProgress(version.schema, self.name)

    @contextmanager
    def _batch(self) -> Iterator[Connection[Any]]:
        """A transaction on the live version; ``OffsetsMoved`` if a switch made another version live."""
        with self._pool.connection() as conn, conn.transaction():
            self._check_live(self.schemas.live(conn, lock="share"))
            yield conn

    def _check_live(self, live: Version | None) -> None:
        if live != self.version:
            raise OffsetsMoved(f"live version is now {live}, was {self.version}")

    def apply(self, batch: Sequence[Applicable]) -> None:
        """One transaction, two round trips in pipeline mode: the live check and the row loads, then the writes,
        the progress and the commit."""
        facts = facts_of(batch)
        with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            live = self.schemas.query_live(conn, lock="share")
            stored = self._writer.load(conn, facts)
            self._check_live(self.schemas.read_live(live))
            self._writer.write_loaded(conn, facts, stored)
            erasure.mask_everywhere(conn, self.schemas.base, erased_accounts(facts))
            self._progress.advance(conn, batch)

    def skip(self, parked: Sequence[ParkedMessage]) -> None:
        with self._batch() as conn:
            self._progress.skip(conn, parked)

    def load_offsets(self) -> Mapping[TopicPartition, int]:
        """The live version's offsets (following a switch first, if one happened)."""
        with self._pool.connection() as conn:
            live = self.schemas.live(conn)
            if live is not None and live != self.version:
                self._use(live)
            return self._progress.offsets(conn)

    def mark_caught_up(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> None:
        self.claim(relay_position, high_watermarks)

    def claim(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> int:
        """One transaction in pipeline mode, as ``apply``: the live check, the declarations, the marks and the read
        of the reflected position travel together (one round trip, then the commit); a switch seen by the check
        rolls the marks back."""
        with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            live = self.schemas.query_live(conn, lock="share")
            self._progress.mark_caught_up(conn, relay_position, high_watermarks)
            reflected = self._progress.query_reflected(conn)
            self._check_live(self.schemas.read_live(live))
            return self._progress.read_reflected(reflected)

    def reflected_position(self) -> int:
        with self._pool.connection() as conn:
            return self._progress.reflected_position(conn)

    def is_transient(self, error: BaseException) -> bool:
        return is_transient_postgres_error(error)

    def describe(self, error: BaseException) -> str:
        """PostgreSQL's own message without its detail: a constraint's DETAIL quotes the failing row, holder name
        and description included."""
        if isinstance(error, psycopg.Error) and error.diag.message_primary:
            return f"{type(error).__name__} ({error.sqlstate}): {error.diag.message_primary}"
        return super().describe(error)

    def ready(self) -> bool:
        with self._pool.connection(timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def close(self) -> None:
        self._pool.close()


def facts_of(batch: Sequence[Applicable]) -> list[Fact]:
    """The facts of ``batch``'s records and decoded events, in order (its passed events only move the progress)."""
    return [
        fact_of_record(event.event) if isinstance(event, RecordEvent) else fact_of_envelope(event.envelope)
        for event in batch
        if isinstance(event, RecordEvent | ConsumedEvent)
    ]
