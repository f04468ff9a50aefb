"""Per-partition progress of a projection in a PostgreSQL table, written in the caller's transaction.

Reusable by any projection: the PostgreSQL read model writes it in the same transaction as its rows (exactly-once
effect); a projection whose store cannot join that transaction (Redis, Elasticsearch) can write it right after its
idempotent store write, and still answer ``load_offsets`` and ``reflected_position`` from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Connection, Cursor, sql

from eventledger_projections.runtime.port import Applicable, ParkedMessage, TopicPartition
from eventledger_runtime.migrations import migrate


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    topic: str
    partition: int
    next_offset: int
    last_position: int
    caught_up_position: int
    dead_letters: int

    @property
    def reflects(self) -> int:
        """Every event of this partition at or below this position is applied (or parked)."""
        return max(self.last_position, self.caught_up_position)


def migrate_progress(conn: Connection[Any], schema: str) -> None:
    """Create the progress table in ``schema`` (which must exist)."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        migrate(conn, "projection-progress", "eventledger_projections.runtime")


class PostgresProgress:
    """The rows of one projection in ``<schema>.projection_partitions``. Every method runs in the caller's
    transaction (or autocommit) on the connection it is given."""

    def __init__(self, schema: str, projection: str) -> None:
        self.schema = schema
        self.projection = projection
        table = sql.Identifier(schema, "projection_partitions")
        self._advance = sql.SQL(
            "INSERT INTO {t} AS p (projection, topic, partition, next_offset, last_position, dead_letters)"
            " SELECT %s, u.* FROM unnest(%b::text[], %b::int[], %b::bigint[], %b::bigint[], %b::bigint[])"
            " AS u (topic, partition, next_offset, last_position, dead_letters)"
            " ON CONFLICT (projection, topic, partition) DO UPDATE SET"
            " dead_letters = p.dead_letters"
            "   + CASE WHEN excluded.next_offset > p.next_offset THEN excluded.dead_letters ELSE 0 END,"
            " next_offset = greatest(p.next_offset, excluded.next_offset),"
            " last_position = greatest(p.last_position, excluded.last_position),"
            " updated_at = statement_timestamp()"
        ).format(t=table)
        self._declare = sql.SQL(
            "INSERT INTO {t} (projection, topic, partition) SELECT %s, u.* FROM unnest(%b::text[], %b::int[])"
            " AS u (topic, partition) ON CONFLICT DO NOTHING"
        ).format(t=table)
        self._mark = sql.SQL(
            "UPDATE {t} AS p SET caught_up_position = %s, updated_at = statement_timestamp()"
            " FROM unnest(%b::text[], %b::int[], %b::bigint[]) AS w (topic, partition, high)"
            " WHERE p.projection = %s AND p.topic = w.topic AND p.partition = w.partition"
            " AND p.next_offset >= w.high AND p.caught_up_position < %s"
        ).format(t=table)
        self._select = sql.SQL(
            "SELECT topic, partition, next_offset, last_position, caught_up_position, dead_letters"
            " FROM {t} WHERE projection = %s ORDER BY topic, partition"
        ).format(t=table)
        self._reflected = sql.SQL(
            "SELECT coalesce(min(greatest(last_position, caught_up_position)), 0) FROM {t} WHERE projection = %s"
        ).format(t=table)

    def advance(self, conn: Connection[Any], events: Sequence[Applicable]) -> None:
        """Record that ``events`` are applied (offsets and positions only ever move forward)."""
        progress: dict[TopicPartition, tuple[int, int]] = {}
        for event in events:
            offset, position = progress.get(event.topic_partition, (0, 0))
            progress[event.topic_partition] = (max(offset, event.offset + 1), max(position, event.position))
        self._write(conn, {tp: (offset, position, 0) for tp, (offset, position) in progress.items()})

    def skip(self, conn: Connection[Any], parked: Sequence[ParkedMessage]) -> None:
        """Record progress past messages parked in the dead-letter topic, and count them."""
        progress: dict[TopicPartition, tuple[int, int, int]] = {}
        for message in parked:
            offset, position, count = progress.get(message.topic_partition, (0, 0, 0))
            progress[message.topic_partition] = (
                max(offset, message.offset + 1),
                max(position, message.position or 0),
                count + 1,
            )
        self._write(conn, progress)

    def _write(self, conn: Connection[Any], progress: Mapping[TopicPartition, tuple[int, int, int]]) -> None:
        if not progress:
            return
        tps = list(progress)
        conn.execute(
            self._advance,
            [
                self.projection,
                [t for t, _ in tps],
                [p for _, p in tps],
                [progress[tp][0] for tp in tps],
                [progress[tp][1] for tp in tps],
                [progress[tp][2] for tp in tps],
            ],
            prepare=True,
        )

    def offsets(self, conn: Connection[Any]) -> dict[TopicPartition, int]:
        return {(row.topic, row.partition): row.next_offset for row in self.partitions(conn)}

    def partitions(self, conn: Connection[Any]) -> list[PartitionProgress]:
        rows = conn.execute(self._select, [self.projection]).fetchall()
        return [PartitionProgress(*row) for row in rows]

    def mark_caught_up(
        self, conn: Connection[Any], relay_position: int, high_watermarks: Mapping[TopicPartition, int]
    ) -> None:
        """Declare every listed partition, then raise the mark of those whose stored next offset reached the high
        watermark. Uses the stored offsets, never the caller's, so the claim holds whoever applied the events."""
        if not high_watermarks:
            return
        tps = list(high_watermarks)
        topics, partitions = [t for t, _ in tps], [p for _, p in tps]
        conn.execute(self._declare, [self.projection, topics, partitions], prepare=True)
        conn.execute(
            self._mark,
            [relay_position, topics, partitions, [high_watermarks[tp] for tp in tps], self.projection, relay_position],
            prepare=True,
        )

    def restore(self, conn: Connection[Any], rows: Sequence[PartitionProgress]) -> None:
        """Write progress rows as given (a rebuild hands the live offsets over to the new version)."""
        table = sql.Identifier(self.schema, "projection_partitions")
        with conn.cursor() as cursor:
            cursor.executemany(
                sql.SQL(
                    "INSERT INTO {t} (projection, topic, partition, next_offset, last_position, caught_up_position,"
                    " dead_letters) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (projection, topic, partition)"
                    " DO UPDATE SET next_offset = excluded.next_offset, last_position = excluded.last_position,"
                    " caught_up_position = excluded.caught_up_position, dead_letters = excluded.dead_letters"
                ).format(t=table),
                [
                    (
                        self.projection,
                        row.topic,
                        row.partition,
                        row.next_offset,
                        row.last_position,
                        row.caught_up_position,
                        row.dead_letters,
                    )
                    for row in rows
                ],
            )

    def reflected_position(self, conn: Connection[Any]) -> int:
        return self.read_reflected(self.query_reflected(conn))

    def query_reflected(self, conn: Connection[Any]) -> Cursor[Any]:
        """Send the read of the reflected position (in pipeline mode, with what precedes it); :meth:`read_reflected`
        reads its answer."""
        return conn.execute(self._reflected, [self.projection], prepare=True)

    @staticmethod
    def read_reflected(cursor: Cursor[Any]) -> int:
        row = cursor.fetchone()
        return int(row[0]) if row else 0
