"""Wiring for the projector process (``eventledger_projections.bootstrap``): a projection from the settings, and a
rebuild run from them. Shaped like the entries of ``bootstrap.PROJECTIONS`` (factory, rebuild function); nothing
connects at import time."""

from __future__ import annotations

from eventledger_infra.settings import Settings
from eventledger_projections.config import ProjectionSettings
from eventledger_projections.elasticsearch.client import elasticsearch_client
from eventledger_projections.elasticsearch.names import IndexNames
from eventledger_projections.elasticsearch.projection import ElasticsearchProjection
from eventledger_projections.elasticsearch.rebuild import Rebuild, RebuildListener, RebuildReport
from eventledger_projections.elasticsearch.writer import RELEVANT_EVENT_TYPES
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_runtime.eventlog import PostgresEventLogReader

OPS_PORT = 18103
"""The projector's default ops port (postgres uses 18101)."""


def build_projection(settings: ProjectionSettings, infra: Settings) -> ElasticsearchProjection:
    """The live projection: Elasticsearch at ``infra.elasticsearch_url``, indices under the prefix of
    ``EVENTLEDGER_ES_INDEX_PREFIX``."""
    return ElasticsearchProjection(
        elasticsearch_client(infra.elasticsearch_url), IndexNames.from_env(), owns_client=True
    )


def relevant_events_source(dsn: str) -> EventStoreSource:
    """The log as this read model's rebuild reads it: only the events that change it (two in three of a ledger's
    events are account legs no transfer document depends on), decoded without repeating the store's checks. Its
    ``log.safe_head`` is the rebuild's bound."""
    return EventStoreSource(
        PostgresEventLogReader(dsn, name="rebuild-source"), event_types=RELEVANT_EVENT_TYPES, trusted=True
    )


def run_rebuild(settings: ProjectionSettings, infra: Settings, listener: RebuildListener) -> RebuildReport:
    """One rebuild from the event store (``settings.event_store_dsn``, else the EVENTLEDGER_PG_* database)."""
    dsn = settings.event_store_dsn or infra.postgres_dsn
    es = elasticsearch_client(infra.elasticsearch_url, request_timeout=60)
    source = relevant_events_source(dsn)
    try:
        job = Rebuild(
            es,
            source,
            source.log.safe_head,
            IndexNames.from_env(),
            batch_size=settings.rebuild_batch_size,
            listener=listener,
        )
        return job.run()
    finally:
        source.close()
        es.close()
