"""The fixtures of every Elasticsearch projection test (integration and fault tiers), imported by their conftests:
a client of the real server, and a fresh index prefix per test (its indices are deleted afterwards; nothing else on
the shared server is touched)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from eventledger_projections.elasticsearch import IndexNames
from tests.support.elasticsearch_rig import drop_read_model, fresh_names
from tests.support.servers import Endpoints


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
