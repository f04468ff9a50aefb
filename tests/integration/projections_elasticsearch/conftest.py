"""Fixtures of the Elasticsearch projection's integration tests: ``es`` and ``names`` (tests/support), and the
projection over them."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch
from tests.support.elasticsearch_fixtures import es, names

from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames

__all__ = ["es", "names"]


@pytest.fixture
def projection(es: Elasticsearch, names: IndexNames) -> ElasticsearchProjection:
    return ElasticsearchProjection(es, names)
