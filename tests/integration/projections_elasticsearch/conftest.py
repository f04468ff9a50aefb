"""Fixtures of the Elasticsearch projection's integration tests: a client of the real server and a fresh index
prefix per test (its indices are deleted afterwards; nothing else on the shared server is touched)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from tests.support.elasticsearch_rig import drop_read_model, fresh_names
from tests.support.servers import Endpoints

from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames


@pytest.fixture(scope="session")
def es(endpoints: Endpoints) -> Iterator[Elasticsearch]:
    client = Elasticsearch(endpoints.elasticsearch_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def names(es: Elasticsearch) -> Iterator[IndexNames]:
    chosen = fresh_names()
    yield chosen
    drop_read_model(es, chosen)


@pytest.fixture
def projection(es: Elasticsearch, names: IndexNames) -> ElasticsearchProjection:
    return ElasticsearchProjection(es, names)
