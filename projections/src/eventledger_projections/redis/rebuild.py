"""Rebuild the Redis read model from the event store beside the live version, then switch the pointer.

1. Take the rebuild lock; delete versions left behind by an earlier rebuild that died.
2. Allocate version N+1 (state ``building``) and replay the event store into it, batch by batch, up to the relay's
   checkpoint (:class:`~eventledger_projections.rebuild.source.EventStoreSource` reads only settled positions).
   Repeat while the relay moved on by more than ``handover_lag`` events. The live version keeps serving, and its
   projector keeps writing to it, all along.
3. Hand over: ``BEGIN_HANDOVER`` stops live writes to the old version (they answer ``ELBUSY``, which the runner
   retries) and answers its per-partition Kafka offsets and last positions, final from then on. Replay up to
   ``target`` = the highest of the relay's checkpoint, what was replayed, the old version's reflected position
   and every last position; seal the new version with ``floor = target`` and the old version's offsets; then
   ``SWITCH`` the pointer (one script: it checks the hand-over is still ours and in time).
4. The live projector's next write finds the pointer moved, raises ``OffsetsMoved``, reloads the offsets and seeks
   there. Messages between those offsets and ``target`` are read again and skipped by the version guards.
5. Delete the old version's keys (SCAN + UNLINK).

Why the offsets are right: every message before an old offset has a position at or below that partition's last
position, hence at or below ``target``, and every event at or below ``target`` is in the new version. If the
rebuild dies during the hand-over, the old version's writes resume at the hand-over deadline and nothing switched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from eventledger_projections.rebuild.port import Rebuild, RebuildConfig, RebuildListener, RebuildReport, SilentListener
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_projections.redis.connection import Scripts, run
from eventledger_projections.redis.keys import KeySpace
from eventledger_projections.redis.operations import Operation, flatten
from eventledger_projections.redis.pages import OperationPages
from eventledger_projections.redis.versions import RebuildLock, delete_version, live_version, versions
from eventledger_runtime.eventlog import RELAY_CHECKPOINT, PostgresEventLogReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedisRebuildConfig(RebuildConfig):
    handover_timeout_ms: int = 30_000
    lock_ttl_ms: int = 60_000
    transient_retry_seconds: float = 60.0


class RedisRebuild(Rebuild):
    """One rebuild run from the event store at ``event_store_dsn``; ``before_switch`` is a test seam that runs after
    the bulk replay, before the hand-over."""

    _source: EventStoreSource  # opened by run(), closed when it returns
    _pages: OperationPages

    def __init__(
        self,
        client: redis.Redis,
        event_store_dsn: str,
        *,
        relay_checkpoint: str = RELAY_CHECKPOINT,
        base: str = "el",
        config: RedisRebuildConfig | None = None,
        listener: RebuildListener | None = None,
        before_switch: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._dsn = event_store_dsn
        self._relay_checkpoint = relay_checkpoint
        self._keys = KeySpace(base)
        self._scripts = Scripts.register(client)
        self._config = config or RedisRebuildConfig()
        self._listener = listener or SilentListener()
        self._before_switch = before_switch
        self._lock = RebuildLock(client, self._scripts, self._keys, self._config.lock_ttl_ms)
        self._events = 0
        self._skipped = 0

    def open_source(self) -> EventStoreSource:
        """The log this rebuild reads, up to the relay's checkpoint (a sandbox's rebuild reads up to its position)."""
        return EventStoreSource(
            PostgresEventLogReader(self._dsn, name="rebuild-source"), relay_checkpoint=self._relay_checkpoint
        )

    def run(self) -> RebuildReport:
        self._source = self.open_source()
        self._pages = OperationPages(self._source.log, self._source.opener)
        try:
            return self._run()
        finally:
            self._source.close()

    def _run(self) -> RebuildReport:
        started = time.monotonic()
        with self._lock.held():
            self._drop_abandoned()
            version = int(run(self._scripts.begin_build, self._keys.base, _now()))
            log.info("rebuilding the Redis read model into version %d", version)
            try:
                done = self._catch_up(version)
                if self._before_switch is not None:
                    self._before_switch()
                previous, built_to = self._hand_over_and_switch(version, done)
            except BaseException:
                # Unless the switch went through and only its answer was lost: then the new version is live.
                if live_version(self._client, self._keys) != version:
                    delete_version(self._client, self._keys, version)
                raise
            deleted = delete_version(self._client, self._keys, previous) if previous is not None else 0
        log.info("switched to version %d at position %d (was %s)", version, built_to, previous)
        base = self._keys.base
        return RebuildReport(
            read_model="redis",
            version=version,
            where=f"{base}:v{version}",
            previous=previous,
            events=self._events,
            built_to=built_to,
            seconds=time.monotonic() - started,
            skipped=self._skipped,
            dropped=(f"{base}:v{previous} ({deleted:,} keys)",) if previous is not None else (),
        )

    # ------------------------------------------------------------------ steps
    def _drop_abandoned(self) -> None:
        """Versions that are not live, left by a rebuild that died (we hold the lock: nobody builds them)."""
        live = live_version(self._client, self._keys)
        for version, state in versions(self._client, self._keys).items():
            if version != live:
                count = delete_version(self._client, self._keys, version)
                log.info("deleted abandoned version %d (%s): %d keys", version, state, count)

    def _catch_up(self, version: int) -> int:
        done = 0
        target = self._source.relay_position()
        self._listener.planned(self._source.count(done, target))
        while True:
            done = self._replay(version, done, target)
            target = self._source.relay_position()
            if target - done <= self._config.handover_lag:
                return done
            self._listener.planned(self._source.count(done, target))

    def _hand_over_and_switch(self, version: int, done: int) -> tuple[int | None, int]:
        live = live_version(self._client, self._keys)
        if live is None:
            target = max(self._source.relay_position(), done)
            self._finish(version, done, target, offsets=[], last=[])
            run(self._scripts.switch, self._keys.base, version, "", "", _now())
            return None, target
        token = self._lock.token
        offsets, last, reflected = run(
            self._scripts.begin_handover, self._keys.base, live, token, self._config.handover_timeout_ms
        )
        try:
            last_positions = [int(last[i + 1]) for i in range(0, len(last), 2)]
            target = max([self._source.relay_position(), done, int(reflected), *last_positions])
            self._finish(version, done, target, offsets=offsets, last=last)
            run(self._scripts.switch, self._keys.base, version, live, token, _now())
        except BaseException:
            run(self._scripts.end_handover, self._keys.base, live, token)
            raise
        return live, target

    def _finish(self, version: int, done: int, target: int, *, offsets: list[str], last: list[str]) -> None:
        self._listener.planned(self._source.count(done, target))
        self._replay(version, done, target)
        run(self._scripts.seal, self._keys.base, version, target, len(offsets) // 2, *offsets, *last)

    # ------------------------------------------------------------------ replay
    def _replay(self, version: int, after: int, upto: int) -> int:
        """Every event with ``after < position <= upto`` into ``version``; answers ``upto``."""
        for page in self._pages.pages(after, upto, self._config.batch_size):
            for reason in page.refused:
                self._skip(reason)
            self._write(version, page.operations)
            self._events += page.events
            self._listener.replayed(page.events)
            self._lock.renew()
        return max(after, upto)

    def _write(self, version: int, operations: Sequence[Operation]) -> None:
        """One script call; an event the script refuses is skipped alone, logged and counted, as the live projector
        parks it."""
        try:
            self._apply(version, operations)
            return
        except redis.ResponseError as error:
            if not str(error).startswith("ELPOISON"):
                raise
        for single in operations:
            try:
                self._apply(version, [single])
            except redis.ResponseError as error:
                if not str(error).startswith("ELPOISON"):
                    raise
                self._skip(f"the event at position {single[3]}: {error}")

    def _skip(self, reason: str) -> None:
        self._skipped += 1
        log.error("skipped %s", reason)

    def _apply(self, version: int, operations: Sequence[Operation]) -> None:
        """The build-mode APPLY, retried while Redis is unreachable (up to ``transient_retry_seconds``)."""
        deadline = time.monotonic() + self._config.transient_retry_seconds
        pause = 0.1
        while True:
            try:
                run(self._scripts.apply, self._keys.base, version, "build", 0, *flatten(operations))
                return
            except (redis.ConnectionError, redis.TimeoutError) as error:
                if time.monotonic() >= deadline:
                    raise
                log.warning("Redis unavailable during the rebuild, retrying: %s", error)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)


def _now() -> str:
    return datetime.now(UTC).isoformat()
