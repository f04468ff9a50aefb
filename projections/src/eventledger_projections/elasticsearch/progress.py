"""The projector's progress in the progress index: Kafka offsets, position marks, parked messages, the rebuild cap.

Elasticsearch has no transaction spanning documents, so progress is written *after* the documents it covers (the
bulk succeeded), never with them. A crash in between replays those events on restart, which changes nothing:
every document carries an external version taken from its events (docs/adr/0011-elasticsearch-read-model.md).
For the same reason the offsets need not be written after every batch: they are kept in memory and flushed at most
every ``flush_interval`` seconds, and always before they are read, before a position is claimed and with parked
messages; a crash loses at most that interval of progress, i.e. a short, harmless replay.

Documents (one index, ids by kind):

- ``offset|<topic>|<partition>``: ``next_offset`` (every message before it applied or parked) and
  ``last_position`` (the highest global position among them). External version = ``next_offset``, so an offset
  never moves back, even when a zombie consumer of a revoked partition writes late.
- ``mark|<topic>|<partition>``: ``caught_up_position``, a position every event of the partition at or below which
  is applied **and visible to searches** (claimed only after a refresh). External version = that position: a
  mark never moves back either. The read model reflects the least mark over its partitions.
- ``parked|<topic>|<partition>|<offset>``: a message parked in the dead-letter topic (counted for operations).
- ``cap``: written by a rebuild for the moment its new version is live but not yet caught up; the reflected
  position is at most its ``position`` until the rebuild removes it.
- ``reflected``: ``position``, the least mark as the last claim saw it (ADR 0040), written with the marks in one
  bulk request; readers get it by id in real time, so a claim does not refresh the progress index. External
  version = that position. Every mark it was computed from is a valid claim, so the least of them is too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from eventledger_projections.elasticsearch.bulk import IndexOp, bulk_index, fetch
from eventledger_projections.elasticsearch.names import IndexNames
from eventledger_projections.elasticsearch.search import CAP_ID, REFLECTED_ID, read_position
from eventledger_projections.runtime.port import Applicable, ParkedMessage, TopicPartition

MAX_PARTITIONS = 10_000


def _offset_id(tp: TopicPartition) -> str:
    return f"offset|{tp[0]}|{tp[1]}"


def _mark_id(tp: TopicPartition) -> str:
    return f"mark|{tp[0]}|{tp[1]}"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ProgressStore:
    """Reads and writes the progress documents of one read model (``names.progress``)."""

    def __init__(self, es: Elasticsearch, names: IndexNames, *, flush_interval: float = 1.0) -> None:
        self._es = es
        self._index = names.progress
        self._flush_interval = flush_interval
        self._last_positions: dict[TopicPartition, int] = {}
        self._unwritten: dict[TopicPartition, tuple[int, int]] = {}
        self._claimed: dict[TopicPartition, int] = {}
        self._reflected_written = -1
        self._flushed_at = time.monotonic()

    # ------------------------------------------------------------------ offsets
    def advance(self, events: Sequence[Applicable]) -> None:
        """Record that ``events`` are applied (call once their documents are written); written by :meth:`flush`,
        here when ``flush_interval`` has passed since the last write."""
        for event in events:
            offset, position = self._unwritten.get(event.topic_partition, (0, 0))
            self._unwritten[event.topic_partition] = (max(offset, event.offset + 1), max(position, event.position))
        if time.monotonic() - self._flushed_at >= self._flush_interval:
            self.flush()

    def flush(self) -> None:
        """Write the offsets recorded since the last write."""
        unwritten, self._unwritten = self._unwritten, {}
        try:
            self._write_offsets(unwritten)
        except BaseException:
            for tp, (offset, position) in unwritten.items():  # kept for the next attempt
                was = self._unwritten.get(tp, (0, 0))
                self._unwritten[tp] = (max(offset, was[0]), max(position, was[1]))
            raise
        self._flushed_at = time.monotonic()

    def skip(self, parked: Sequence[ParkedMessage]) -> None:
        """Record progress past messages parked in the dead-letter topic, and one document per parked message."""
        ops: list[IndexOp] = []
        for message in parked:
            offset, position = self._unwritten.get(message.topic_partition, (0, 0))
            self._unwritten[message.topic_partition] = (
                max(offset, message.offset + 1),
                max(position, message.position or 0),
            )
            document = {
                "kind": "parked",
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "position": message.position,
                "recorded_at": _now(),
            }
            ops.append(
                IndexOp(self._index, f"parked|{message.topic}|{message.partition}|{message.offset}", document, 1)
            )
        bulk_index(self._es, ops)
        self.flush()

    def _write_offsets(self, progress: Mapping[TopicPartition, tuple[int, int]]) -> None:
        ops: list[IndexOp] = []
        for tp, (next_offset, position) in progress.items():
            last = max(position, self._last_positions.get(tp, 0))
            document = {
                "kind": "offset",
                "topic": tp[0],
                "partition": tp[1],
                "next_offset": next_offset,
                "last_position": last,
                "recorded_at": _now(),
            }
            ops.append(IndexOp(self._index, _offset_id(tp), document, next_offset))
        outcome = bulk_index(self._es, ops)
        for op in outcome.written:
            self._last_positions[(op.document["topic"], op.document["partition"])] = op.document["last_position"]

    def offsets(self) -> dict[TopicPartition, int]:
        """``{(topic, partition): next offset}`` of every partition with recorded progress."""
        self.flush()
        self._refresh()
        found: dict[TopicPartition, int] = {}
        for source in self._search("offset"):
            tp = (source["topic"], int(source["partition"]))
            found[tp] = int(source["next_offset"])
            self._last_positions[tp] = max(self._last_positions.get(tp, 0), int(source["last_position"]))
        return found

    def parked_count(self) -> int:
        self._refresh()
        try:
            return int(self._es.count(index=self._index, query={"term": {"kind": "parked"}})["count"])
        except NotFoundError:
            return 0

    # ------------------------------------------------------------------ marks
    def mark_caught_up(
        self,
        relay_position: int,
        high_watermarks: Mapping[TopicPartition, int],
        make_visible: Callable[[], None],
    ) -> int:
        """Claim positions for the listed partitions (each gets a mark, 0 if nothing is known of it); answers the
        reflected position (as :meth:`reflected_position` reads it, without reading it again).

        The stored offsets and marks are read first (one real-time ``mget``); ``make_visible`` then refreshes the
        indices, so that every document those offsets cover is searchable before any mark is written. A
        partition's claim is its ``last_position``, raised to ``relay_position`` when its ``next_offset`` reached
        the high watermark (read by the runner after ``relay_position``: ADR 0007). The marks and the ``reflected``
        document (the least mark, each partition's being the higher of its claim and its stored mark) go in one
        bulk request without a refresh: readers get the reflected document in real time (ADR 0040).
        """
        self.flush()
        if not high_watermarks:
            make_visible()
            return self.reflected_position()
        ids = [_offset_id(tp) for tp in high_watermarks] + [_mark_id(tp) for tp in high_watermarks] + [CAP_ID]
        stored = fetch(self._es, self._index, ids)
        make_visible()
        ops: list[IndexOp] = []
        marks: list[int] = []
        for tp, high in high_watermarks.items():
            offset = stored.get(_offset_id(tp))
            next_offset = int(offset.source["next_offset"]) if offset else 0
            claim = int(offset.source["last_position"]) if offset else 0
            if next_offset >= high:
                claim = max(claim, relay_position)
            document = {
                "kind": "mark",
                "topic": tp[0],
                "partition": tp[1],
                "caught_up_position": claim,
                "recorded_at": _now(),
            }
            if claim > self._claimed.get(tp, -1):  # a mark never moves back: an unchanged one is not rewritten
                ops.append(IndexOp(self._index, _mark_id(tp), document, claim))
            mark = stored.get(_mark_id(tp))
            marks.append(max(claim, self._claimed.get(tp, 0), int(mark.source["caught_up_position"]) if mark else 0))
        reflected = min(marks)
        if reflected > self._reflected_written:  # external version = the position: it never moves back either
            document = {"kind": "reflected", "position": reflected, "recorded_at": _now()}
            ops.append(IndexOp(self._index, REFLECTED_ID, document, reflected))
        outcome = bulk_index(self._es, ops)
        for op in outcome.written + outcome.conflicts:
            if op.doc_id == REFLECTED_ID:
                self._reflected_written = op.document["position"]
            else:
                self._claimed[(op.document["topic"], op.document["partition"])] = op.document["caught_up_position"]
        cap = stored.get(CAP_ID)
        return min(reflected, int(cap.source["position"])) if cap else reflected

    def reflected_position(self) -> int:
        return read_position(self._es, progress_index=self._index)

    def marks(self) -> dict[TopicPartition, int]:
        """Every partition's mark (for status reports and tests)."""
        self._refresh()
        return {(s["topic"], int(s["partition"])): int(s["caught_up_position"]) for s in self._search("mark")}

    # ------------------------------------------------------------------ rebuild cap
    def set_cap(self, position: int, index: str) -> None:
        """Hold the reflected position at or below ``position`` (visible to readers when this returns)."""
        document = {"kind": "cap", "position": position, "index": index, "recorded_at": _now()}
        bulk_index(self._es, [IndexOp(self._index, CAP_ID, document)], refresh=True)

    def clear_cap(self) -> None:
        self._es.options(ignore_status=404).delete(index=self._index, id=CAP_ID, refresh=True)

    def cap(self) -> int | None:
        found = fetch(self._es, self._index, [CAP_ID])
        return int(found[CAP_ID].source["position"]) if CAP_ID in found else None

    def _refresh(self) -> None:
        self._es.options(ignore_status=404).indices.refresh(index=self._index)

    def _search(self, kind: str) -> list[dict[str, Any]]:
        try:
            response = self._es.search(index=self._index, query={"term": {"kind": kind}}, size=MAX_PARTITIONS)
        except NotFoundError:
            return []
        return [hit["_source"] for hit in response["hits"]["hits"]]
