"""Wiring for the projector process (``eventledger_projections.bootstrap``): a projection from the settings, and a
rebuild run from them. Shaped like the entries of ``bootstrap.PROJECTIONS`` (factory, rebuild function); nothing
connects at import time."""

from __future__ import annotations

from eventledger_projections.elasticsearch.client import elasticsearch_client
from eventledger_projections.elasticsearch.logsource import RelevantEventsSource
from eventledger_projections.elasticsearch.names import IndexNames
from eventledger_projections.elasticsearch.projection import ElasticsearchProjection
from eventledger_projections.elasticsearch.rebuild import Rebuild, RebuildListener, RebuildReport
from eventledger_projections.elasticsearch.safehead import SafeHead
from eventledger_runtime.settings import ProjectionSettings, Servers

OPS_PORT = 18103
"""The projector's default ops port (postgres uses 18101)."""


def build_projection(settings: ProjectionSettings, infra: Servers) -> ElasticsearchProjection:
    """The live projection: Elasticsearch at ``infra.elasticsearch_url``, indices under the prefix the
    namespace derives."""
    return ElasticsearchProjection(
        elasticsearch_client(infra.elasticsearch_url), IndexNames(settings.names.index_prefix), owns_client=True
    )


def run_rebuild(settings: ProjectionSettings, infra: Servers, listener: RebuildListener) -> RebuildReport:
    """One rebuild from the event store (``settings.event_store_dsn``, else the EVENTLEDGER_PG_* database)."""
    dsn = settings.event_store(infra.postgres_dsn)
    es = elasticsearch_client(infra.elasticsearch_url, request_timeout=60)
    source, safe_head = RelevantEventsSource(dsn), SafeHead(dsn)
    try:
        job = Rebuild(
            es,
            source,
            safe_head,
            IndexNames(settings.names.index_prefix),
            batch_size=settings.rebuild_batch_size,
            listener=listener,
        )
        return job.run()
    finally:
        safe_head.close()
        source.close()
        es.close()
