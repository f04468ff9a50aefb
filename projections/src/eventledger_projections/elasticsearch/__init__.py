"""The Elasticsearch read model: transfers for full-text search with holder names, filters and facets.

- :class:`~.projection.ElasticsearchProjection`: the projection the runtime drives from Kafka.
- :class:`~.rebuild.Rebuild`: a new version built from the event store beside the live one, then switched in.
- :func:`~.search.search_transfers` and :func:`~.search.read_position`: what the query side reads.

See docs/adr/0011-elasticsearch-read-model.md.
"""

from eventledger_projections.elasticsearch.names import IndexNames, Target
from eventledger_projections.elasticsearch.projection import ElasticsearchProjection
from eventledger_projections.elasticsearch.search import SearchPage, TransferQuery, read_position, search_transfers

__all__ = [
    "ElasticsearchProjection",
    "IndexNames",
    "SearchPage",
    "Target",
    "TransferQuery",
    "read_position",
    "search_transfers",
]
