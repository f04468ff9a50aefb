"""Which failures the runner retries forever (Elasticsearch unavailable) and which it parks (the data is at
fault); the index names of a prefix."""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, BadRequestError, ConnectionError, ConnectionTimeout, SerializationError

from eventledger_projections.elasticsearch.bulk import BulkWriteFailed, ItemFailure, ReadFailed, is_unavailable
from eventledger_projections.elasticsearch.names import IndexNames, Target
from eventledger_runtime.settings import Namespace


def api_error(status: int, kind: str, cls: type[ApiError] = ApiError) -> ApiError:
    meta = ApiResponseMeta(
        status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0, node=NodeConfig("http", "es", 9200)
    )
    return cls(message=kind, meta=meta, body={"error": {"type": kind}, "status": status})


def item(status: int, kind: str) -> ItemFailure:
    return ItemFailure("transfers-v1", "id", status, kind, "reason")


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("refused"),
        ConnectionTimeout("timed out"),
        api_error(503, "unavailable_shards_exception"),
        api_error(429, "es_rejected_execution_exception"),
        api_error(404, "index_not_found_exception"),
        BulkWriteFailed([item(429, "es_rejected_execution_exception"), item(404, "index_not_found_exception")]),
        ReadFailed("holders", "index_not_found_exception", "no such index"),
        TimeoutError(),
    ],
)
def test_the_store_being_unavailable_is_transient(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        api_error(400, "mapper_parsing_exception", BadRequestError),
        BulkWriteFailed([item(400, "document_parsing_exception")]),
        BulkWriteFailed([item(429, "es_rejected_execution_exception"), item(400, "document_parsing_exception")]),
        SerializationError("cannot encode"),
        ValueError("a bug"),
    ],
)
def test_a_refused_document_or_a_bug_is_not(error: BaseException) -> None:
    assert not is_unavailable(error)


def test_a_bulk_failure_names_its_first_items() -> None:
    failure = BulkWriteFailed([item(400, "document_parsing_exception")] * 5)
    assert str(failure).startswith("5 bulk items failed: transfers-v1/id: 400 document_parsing_exception")
    assert "(and 2 more)" in str(failure)


def test_names_of_a_prefix() -> None:
    names = IndexNames("acme-")
    assert (names.transfers, names.holders, names.progress) == (
        "acme-transfers",
        "acme-holders",
        "acme-transfers-progress",
    )
    assert (names.transfers_version(3), names.holders_version(3)) == ("acme-transfers-v3", "acme-holders-v3")
    assert [names.version_of(i) for i in ("acme-transfers-v3", "acme-holders-v12", "acme-transfers", "x-v1")] == [
        3,
        12,
        None,
        None,
    ]
    assert Target.live(names) == Target("acme-transfers", "acme-holders")
    assert Target.version(names, 2) == Target("acme-transfers-v2", "acme-holders-v2")
    with pytest.raises(ValueError, match="prefix"):
        IndexNames("Upper/Case")


@pytest.mark.parametrize(
    ("namespace", "transfers"), [("", "eventledger-transfers"), ("staging", "staging-eventledger-transfers")]
)
def test_the_prefix_comes_from_the_namespace(namespace: str, transfers: str) -> None:
    assert IndexNames(Namespace(namespace).index_prefix).transfers == transfers
