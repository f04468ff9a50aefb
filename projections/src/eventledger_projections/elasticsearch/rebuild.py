"""Rebuilding the read model from the event store (never from Kafka, whose retention is finite), beside the live
version, without downtime.

1. Make sure a live version ``N`` exists; refuse if another version exists beside it (a rebuild running, or one
   abandoned: ``force`` discards it).
2. Create version ``N + 1`` (refreshes off) and replay the log into it up to a safe head, then catch up in rounds
   while the log grows, until the rest is small; turn refreshes on and replay the rest, up to head ``H``.
3. Write the *cap* ``H`` into the progress index, then move both aliases to ``N + 1`` in one ``_aliases`` call.
   From then on the live projector (which writes through the aliases) writes into ``N + 1``.
4. Final catch-up: replay from ``H`` up to a safe head taken *after* the switch. Every event the live projector
   wrote into ``N`` was committed before the switch, so it is at or below that head and lands in ``N + 1`` too.
   Until this is done, the new version may lack events the live projector had applied and claimed; the cap holds
   the reflected position at ``H`` meanwhile, so readers wait rather than trust a claim the index does not meet.
5. Complete holder names, remove the cap, delete version ``N``.

Both writers use external versions, so the order in which the rebuild and the live projector write a document does
not matter (docs/adr/0011-elasticsearch-read-model.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from elasticsearch import Elasticsearch

from eventledger_events import EventEnvelope
from eventledger_projections.elasticsearch.indices import (
    create_version,
    delete_version,
    ensure_read_model,
    existing_versions,
    finish_building,
    switch_aliases,
)
from eventledger_projections.elasticsearch.names import IndexNames, Target
from eventledger_projections.elasticsearch.pages import pages_ahead
from eventledger_projections.elasticsearch.progress import ProgressStore
from eventledger_projections.elasticsearch.writer import TransferIndexWriter, WriteReport
from eventledger_projections.rebuild.port import (
    Rebuild,
    RebuildListener,
    RebuildRefused,
    RebuildReport,
    SilentListener,
)


class LogSource(Protocol):
    """What a rebuild reads (:class:`~eventledger_projections.rebuild.source.EventStoreSource`, restricted to the
    relevant events by :func:`~.wiring.relevant_events_source`). ``read`` runs in a reader thread
    (:mod:`.pages`), never at the same time as ``count``."""

    def read(self, after: int, upto: int, limit: int) -> list[EventEnvelope]: ...

    def count(self, after: int, upto: int) -> int: ...


class ElasticsearchRebuild(Rebuild):
    """One rebuild of the read model named by ``names``. ``safe_head`` answers a bound at or above every event
    committed before it is called (the event-log reader's ``safe_head``). ``on_switch(cap)`` runs right after the alias
    switch, before the final catch-up (operators log it; tests observe the capped window)."""

    def __init__(
        self,
        es: Elasticsearch,
        source: LogSource,
        safe_head: Callable[[], int],
        names: IndexNames,
        *,
        batch_size: int = 2000,
        replicas: int = 0,
        catch_up_threshold: int = 2000,
        max_catch_up_rounds: int = 5,
        force: bool = False,
        listener: RebuildListener | None = None,
        on_switch: Callable[[int], None] | None = None,
    ) -> None:
        self._es = es
        self._source = source
        self._safe_head = safe_head
        self._names = names
        self._batch_size = batch_size
        self._replicas = replicas
        self._threshold = catch_up_threshold
        self._max_rounds = max_catch_up_rounds
        self._force = force
        self._listener = listener or SilentListener()
        self._on_switch = on_switch
        self._writer = TransferIndexWriter(es)
        self._progress = ProgressStore(es, names)
        self._events = 0

    def run(self) -> RebuildReport:
        """Build, switch, catch up, clean up. Raises :class:`RebuildRefused` (nothing changed), or the failure met
        (before the switch the live version is untouched; after it, the cap stays until a rebuild completes)."""
        started = time.monotonic()
        live = ensure_read_model(self._es, self._names, replicas=self._replicas)
        others = sorted(existing_versions(self._es, self._names) - {live})
        if others and not self._force:
            raise RebuildRefused(
                f"versions {others} exist beside the live version {live}: a rebuild is running or was abandoned "
                "(force discards them)"
            )
        for version in others:
            delete_version(self._es, self._names, version)
        version = max([live, *others]) + 1
        create_version(self._es, self._names, version, replicas=self._replicas, building=True)
        target = Target.version(self._names, version)

        head = self._safe_head()
        position = self._replay(target, 0, head)
        rounds = 0
        while rounds < self._max_rounds:
            head = self._safe_head()
            if head - position <= self._threshold:
                break
            position = self._replay(target, position, head)
            rounds += 1
        finish_building(self._es, self._names, version)
        position = self._replay(target, position, head)

        self._progress.set_cap(position, target.transfers)
        switch_aliases(self._es, self._names, live, version)
        if self._on_switch is not None:
            self._on_switch(position)
        position = self._replay(target, position, self._safe_head())
        self._es.indices.refresh(index=[target.transfers, target.holders])
        if self._writer.repair(target):
            self._es.indices.refresh(index=target.transfers)
        self._progress.clear_cap()
        delete_version(self._es, self._names, live)
        return RebuildReport(
            read_model="elasticsearch",
            version=version,
            where=self._names.transfers_version(version),
            previous=live,
            events=self._events,
            built_to=position,
            seconds=time.monotonic() - started,
            catch_up_rounds=rounds,
        )

    def _replay(self, target: Target, after: int, head: int) -> int:
        """Write every event of ``(after, head]``; answers ``head`` once done."""
        if head <= after:
            return after
        self._listener.planned(self._source.count(after, head))
        # One bulk request in flight while the next page is folded; any read of the index waits for it first.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-writer") as writer:
            in_flight: list[tuple[Future[WriteReport], int]] = []

            def drain() -> None:
                while in_flight:
                    future, count = in_flight.pop()
                    future.result()
                    self._events += count
                    self._listener.replayed(count)

            for page in pages_ahead(self._source, after, head, self._batch_size):
                prepared = self._writer.prepare(target, page, before_read=drain, optimistic=True)
                drain()
                in_flight.append((writer.submit(self._writer.commit, prepared), len(page)))
            drain()
        return head
