"""Wiring the Elasticsearch read model into the projector CLI: the projection, its rebuild and its status, from the
settings (nothing connects at import time). Every read model has a ``wiring`` module of this shape, which
:mod:`eventledger_projections.bootstrap` registers; this is the one place the Elasticsearch rebuild is wired."""

from __future__ import annotations

import logging

from elasticsearch import Elasticsearch

from eventledger_projections.elasticsearch.client import elasticsearch_client
from eventledger_projections.elasticsearch.indices import live_version
from eventledger_projections.elasticsearch.names import IndexNames
from eventledger_projections.elasticsearch.progress import ProgressStore
from eventledger_projections.elasticsearch.projection import ElasticsearchProjection
from eventledger_projections.elasticsearch.rebuild import ElasticsearchRebuild
from eventledger_projections.elasticsearch.writer import RELEVANT_EVENT_TYPES
from eventledger_projections.rebuild.port import RebuildListener, RebuildReport
from eventledger_projections.rebuild.sandbox import BoundedSource, Contents, SandboxError, canonical, check_name
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.settings import ProjectionSettings, Servers

log = logging.getLogger(__name__)

NAME = "elasticsearch"
OPS_PORT = 18103
"""The projector's default ops port (PostgreSQL 18101, Redis 18102)."""
TOPICS = ElasticsearchProjection.topics


def build_projection(settings: ProjectionSettings, infra: Servers) -> ElasticsearchProjection:
    """The live projection: Elasticsearch at ``infra.elasticsearch_url``, indices under the prefix the
    namespace derives."""
    return ElasticsearchProjection(
        elasticsearch_client(infra.elasticsearch_url), IndexNames(settings.names.index_prefix), owns_client=True
    )


def relevant_events_source(dsn: str) -> EventStoreSource:
    """The log as this read model's rebuild reads it: only the events that change it (two in three of a ledger's
    events are account legs no transfer document depends on), decoded without repeating the store's checks. Its
    ``log.safe_head`` is the rebuild's bound."""
    return EventStoreSource(
        PostgresEventLogReader(dsn, name="rebuild-source"), event_types=RELEVANT_EVENT_TYPES, trusted=True
    )


def run_rebuild(
    settings: ProjectionSettings, infra: Servers, listener: RebuildListener, *, force: bool = False
) -> RebuildReport:
    """One rebuild from the event store (the EVENTLEDGER_PG_* database).
    ``force`` discards versions an abandoned rebuild left beside the live one (else the rebuild is refused)."""
    names = IndexNames(settings.names.index_prefix)
    es = elasticsearch_client(infra.elasticsearch_url, request_timeout=60)
    source = relevant_events_source(infra.postgres_dsn)
    try:
        job = ElasticsearchRebuild(
            es,
            source,
            source.log.safe_head,
            names,
            batch_size=settings.rebuild_batch_size,
            force=force,
            listener=listener,
            on_switch=lambda cap: log.warning("switched %s; catching up from %d", names.transfers, cap),
        )
        return job.run()
    finally:
        source.close()
        es.close()


def status(settings: ProjectionSettings, infra: Servers) -> dict[str, object]:
    """The live version, the reflected position, a rebuild's cap, per-partition progress and parked messages."""
    names = IndexNames(settings.names.index_prefix)
    es = elasticsearch_client(infra.elasticsearch_url, request_timeout=10)
    try:
        live = live_version(es, names)
        if live is None:
            return {"index prefix": names.prefix, "live version": None}
        progress = ProgressStore(es, names)
        offsets = progress.offsets()
        answer: dict[str, object] = {
            "index prefix": names.prefix,
            "live version": live,
            "reflected position": progress.reflected_position(),
        }
        cap = progress.cap()
        if cap is not None:
            answer["rebuild cap"] = f"{cap} (a switch is catching up)"
        answer["partitions"] = [
            f"{topic}[{partition}] next offset {offsets.get((topic, partition), 0)}, reflects {mark}"
            for (topic, partition), mark in sorted(progress.marks().items())
        ]
        answer["parked messages"] = progress.parked_count()
        return answer
    finally:
        es.close()


# ---------------------------------------------------------------------------------------------- sandboxes
class ElasticsearchSandboxes:
    """Sandboxes of the Elasticsearch read model: index prefixes ``<prefix>sandbox-<name>-`` (see
    :mod:`eventledger_projections.rebuild.sandbox`)."""

    @staticmethod
    def names(settings: ProjectionSettings, name: str | None) -> IndexNames:
        prefix = settings.names.index_prefix
        return IndexNames(prefix if name is None else f"{prefix}sandbox-{name}-")

    def build(
        self, settings: ProjectionSettings, infra: Servers, name: str, position: int, listener: RebuildListener
    ) -> RebuildReport:
        names = self.names(settings, name)
        es = elasticsearch_client(infra.elasticsearch_url, request_timeout=60)
        source = BoundedSource(
            PostgresEventLogReader(infra.postgres_dsn, name="sandbox-source"),
            position,
            event_types=RELEVANT_EVENT_TYPES,
        )
        try:
            job = ElasticsearchRebuild(
                es, source, source.bound, names, batch_size=settings.rebuild_batch_size, listener=listener
            )
            report = job.run()
            # The projector's progress index is not the read model's: nothing writes it in a sandbox.
            es.options(ignore_status=404).indices.delete(index=names.progress, ignore_unavailable=True)
            return report
        finally:
            source.close()
            es.close()

    def contents(self, settings: ProjectionSettings, infra: Servers, name: str | None) -> Contents:
        names = self.names(settings, name)
        es = elasticsearch_client(infra.elasticsearch_url, request_timeout=60)
        try:
            if live_version(es, names) is None:
                raise SandboxError(f"no Elasticsearch read model under the prefix {names.prefix}")
            es.indices.refresh(index=[names.transfers, names.holders])
            return {"transfers": _documents(es, names.transfers), "holders": _documents(es, names.holders)}
        finally:
            es.close()

    def reflected_position(self, settings: ProjectionSettings, infra: Servers) -> int:
        es = elasticsearch_client(infra.elasticsearch_url, request_timeout=10)
        try:
            return ProgressStore(es, self.names(settings, None)).reflected_position()
        finally:
            es.close()

    def drop(self, settings: ProjectionSettings, infra: Servers, name: str) -> list[str]:
        names = self.names(settings, check_name(name))
        es = elasticsearch_client(infra.elasticsearch_url, request_timeout=60)
        try:
            found = sorted(es.indices.get(index=f"{names.prefix}*", expand_wildcards="all", allow_no_indices=True))
            if found:
                es.indices.delete(index=",".join(found), ignore_unavailable=True)
            return found
        finally:
            es.close()


def _documents(es: Elasticsearch, index: str) -> dict[str, str]:
    """Every document of ``index`` by id (a scroll: the server core has it), as canonical JSON."""
    found: dict[str, str] = {}
    page = es.search(index=index, scroll="1m", size=1000, sort=["_doc"], query={"match_all": {}})
    scroll_id = page.get("_scroll_id")
    try:
        while page["hits"]["hits"]:
            for hit in page["hits"]["hits"]:
                found[hit["_id"]] = canonical(hit["_source"])
            page = es.scroll(scroll_id=scroll_id, scroll="1m")
            scroll_id = page.get("_scroll_id", scroll_id)
    finally:
        if scroll_id:
            es.options(ignore_status=404).clear_scroll(scroll_id=scroll_id)
    return found


SANDBOXES = ElasticsearchSandboxes()
