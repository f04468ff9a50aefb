"""Fixtures of the Elasticsearch projection's fault tests: ``es`` and ``names`` (tests/support)."""

from __future__ import annotations

from tests.support.elasticsearch_fixtures import es, names

__all__ = ["es", "names"]
