"""The Redis read model as a :class:`~eventledger_projections.runtime.port.Projection` (name ``"redis"``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from uuid import UUID

import redis

import eventledger_events as ev
from eventledger_projections.redis.connection import Scripts, run
from eventledger_projections.redis.erasure import mask_copies, rewrite_append_only_file_if_due
from eventledger_projections.redis.keys import KeySpace, parse_partition_field, partition_field
from eventledger_projections.redis.operations import Operation, flatten, operation, operation_of
from eventledger_projections.redis.scripts import MOVED
from eventledger_projections.runtime.port import (
    Applicable,
    ConsumedEvent,
    OffsetsMoved,
    ParkedMessage,
    PassedEvent,
    Projection,
    RecordEvent,
    TopicPartition,
)

_TRANSIENT_ERRORS = (
    redis.ConnectionError,  # BusyLoadingError (a restarted Redis still reading its file) is one
    redis.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
    redis.exceptions.ClusterDownError,
)
_TRANSIENT_REPLIES = ("ELBUSY ", "BUSY ", "NOREPLICAS ")
"""Error replies that mean "the server cannot take this write now", not "this event is wrong"."""


class RedisProjection(Projection):
    """Balance cache and dashboard figures in Redis, written only by the version-guarded scripts of
    :mod:`.scripts`.

    - ``apply`` sends the whole batch as one ``APPLY`` script call: rows, figures, next offsets and
      reflected-position marks of every partition in the batch move together or not at all. An event already
      applied (its stream version is not above the stored one) changes nothing but progress.
    - The live version is cached. When a script finds that the live pointer names another version (a rebuild
      switched, or Redis came back empty), the projection raises :class:`OffsetsMoved` from ``apply``,
      ``skip`` and ``mark_caught_up`` until the runner has called :meth:`load_offsets` again, so that nothing is
      written at the old offsets into the new version.
    - ``load_offsets`` creates an empty live version when there is none (first start, or a Redis that lost its
      data): the runner then reads every partition from its beginning.
    """

    name = "redis"
    reads_records = True
    """Events of the current schema version are mapped from their Avro records (ADR 0037), as the rebuild maps
    stored rows (:mod:`.pages`)."""

    def __init__(self, client: redis.Redis, *, base: str = "el") -> None:
        self.keys = KeySpace(base)
        self._client = client
        self._scripts = Scripts.register(client)
        self._version: int | None = None
        self._moved = False

    # ------------------------------------------------------------------ the port
    def apply(self, batch: Sequence[Applicable]) -> None:
        if not batch:
            return
        events = [event for event in batch if not isinstance(event, PassedEvent)]
        operations = [_operation(event) for event in events]
        erased = [account for account in map(_erased_account, events) if account is not None]
        if erased:
            mask_copies(self._client, self.keys.base, erased)
        progress = _progress((e.topic_partition, e.offset, e.position) for e in batch)
        self._write(progress, flatten(operations))

    def skip(self, parked: Sequence[ParkedMessage]) -> None:
        if parked:
            self._write(_progress((m.topic_partition, m.offset, m.position) for m in parked), [])

    def load_offsets(self) -> Mapping[TopicPartition, int]:
        version, flat = run(self._scripts.load_offsets, self.keys.base, _now())
        self._version = int(version)
        self._moved = False
        return {parse_partition_field(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    def mark_caught_up(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> None:
        self.claim(relay_position, high_watermarks)

    def claim(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> int:
        """One script: the marks, then the reflected position it recomputed (its answer)."""
        pairs = [str(v) for tp, high in high_watermarks.items() for v in (partition_field(tp), high)]
        answer = run(self._scripts.mark_caught_up, self.keys.base, self._live(), relay_position, *pairs)
        if answer == MOVED:
            self._lost_version()
        rewrite_append_only_file_if_due(self._client, self.keys.aof_rewrite_due)
        return int(answer)

    def reflected_position(self) -> int:
        return int(run(self._scripts.reflected, self.keys.base))

    def is_transient(self, error: BaseException) -> bool:
        if isinstance(error, _TRANSIENT_ERRORS):
            return True
        if isinstance(error, redis.ResponseError):
            return str(error).startswith(_TRANSIENT_REPLIES)
        return super().is_transient(error)

    def ready(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ helpers
    @property
    def version(self) -> int | None:
        """The live version this projection writes to (``None`` until it first asked)."""
        return self._version

    def _live(self) -> int:
        if self._moved:
            raise OffsetsMoved(f"the live version is no longer {self._version}; load the offsets again")
        if self._version is None:
            self.load_offsets()
        assert self._version is not None
        return self._version

    def _write(self, progress: list[str], operations: list[str]) -> None:
        version = self._live()
        answer = run(self._scripts.apply, self.keys.base, version, "live", len(progress) // 3, *progress, *operations)
        if answer == MOVED:
            self._lost_version()

    def _lost_version(self) -> None:
        self._moved = True
        raise OffsetsMoved(f"the live pointer no longer names version {self._version}")


def _operation(event: ConsumedEvent | RecordEvent) -> Operation:
    """The operation of a decoded event, or of a record of the current schema version (same table)."""
    if isinstance(event, ConsumedEvent):
        return operation(event.envelope)
    record = event.event
    return operation_of(
        record.event_type,
        record.stream_id,
        record.stream_version,
        record.position,
        record.recorded_at,
        record.record.__getitem__,
    )


def _erased_account(event: ConsumedEvent | RecordEvent) -> UUID | None:
    """The account an ``account.personal_data_erased`` event (decoded or a record) erased; ``None`` for any other."""
    if isinstance(event, ConsumedEvent):
        payload = event.envelope.payload
        return payload.account_id if isinstance(payload, ev.AccountPersonalDataErased) else None
    if event.event.event_type != ev.AccountPersonalDataErased.EVENT_TYPE:
        return None
    return UUID(str(event.event.record["account_id"]))


def _progress(items: Iterable[tuple[TopicPartition, int, int | None]]) -> list[str]:
    """Per partition: the next offset after the batch and its highest position ('' when none is known)."""
    per_partition: dict[TopicPartition, tuple[int, int | None]] = {}
    for tp, offset, position in items:
        next_offset, highest = per_partition.get(tp, (0, None))
        if position is not None and (highest is None or position > highest):
            highest = position
        per_partition[tp] = (max(next_offset, offset + 1), highest)
    return [
        value
        for tp, (next_offset, highest) in per_partition.items()
        for value in (partition_field(tp), str(next_offset), "" if highest is None else str(highest))
    ]


def _now() -> str:
    return datetime.now(UTC).isoformat()
