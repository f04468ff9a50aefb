"""Bulk writes and reads by id that check every item, and the line between "Elasticsearch is unavailable" and
"the data is wrong".

A bulk request answers 200 even when items failed, so every item's result is read. A version conflict (409) is
success: with external versions it means the index already holds this document at this version or a newer one,
which is exactly what a redelivered or older event must leave behind. Any other failed item fails the whole call
with :class:`BulkWriteFailed` (the items that did succeed are harmless to write again: they carry versions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from elasticsearch import ApiError, Elasticsearch, SerializationError, TransportError

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses that mean the cluster is busy or unavailable, not that the request is wrong."""

TRANSIENT_ERROR_TYPES = frozenset(
    {
        # The alias moved between resolution and write (a rebuild switched versions), or the index is being made.
        "index_not_found_exception",
        "es_rejected_execution_exception",
        "unavailable_shards_exception",
        "no_shard_available_action_exception",
        "cluster_block_exception",
        "circuit_breaking_exception",
    }
)


_BULK_FIELDS = "errors,items.*.status,items.*.error.type,items.*.error.reason"
"""All a bulk answer is read for; the rest (ids, versions, shard counts) would be parsed for nothing."""


@dataclass(frozen=True, slots=True)
class IndexOp:
    """One document to index. ``version`` is an external version (``version_type=external``: written only when
    above the stored one); None indexes unconditionally (bookkeeping documents that carry no history)."""

    index: str
    doc_id: str
    document: dict[str, Any]
    version: int | None = None
    version_type: Literal["external", "external_gte"] = "external"
    """``external_gte`` also writes at the stored version: only for masking an erased holder (:mod:`.erasure`)."""


@dataclass(frozen=True, slots=True)
class ItemFailure:
    index: str
    doc_id: str
    status: int
    error_type: str
    reason: str

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT_STATUSES or self.error_type in TRANSIENT_ERROR_TYPES

    def __str__(self) -> str:
        return f"{self.index}/{self.doc_id}: {self.status} {self.error_type}: {self.reason}"


class BulkWriteFailed(Exception):
    """Some items of a bulk request failed for a reason other than a version conflict."""

    def __init__(self, failures: Sequence[ItemFailure]) -> None:
        self.failures = list(failures)
        shown = "; ".join(str(failure) for failure in self.failures[:3])
        more = f" (and {len(self.failures) - 3} more)" if len(self.failures) > 3 else ""
        super().__init__(f"{len(self.failures)} bulk items failed: {shown}{more}")

    @property
    def transient(self) -> bool:
        """True when every failure is the cluster being unavailable (retry), not a fault of the documents."""
        return all(failure.transient for failure in self.failures)


@dataclass(slots=True)
class BulkOutcome:
    """Which operations were written, and which were refused as version conflicts (both count as success)."""

    written: list[IndexOp] = field(default_factory=list)
    conflicts: list[IndexOp] = field(default_factory=list)


def bulk_index(
    es: Elasticsearch, ops: Sequence[IndexOp], *, refresh: bool | Literal["wait_for"] = False
) -> BulkOutcome:
    """Index ``ops`` in one bulk request; raises :class:`BulkWriteFailed` unless every item was written or was a
    version conflict. Raises the client's errors (connection, HTTP) as they are."""
    outcome = BulkOutcome()
    if not ops:
        return outcome
    operations: list[dict[str, Any]] = []
    for op in ops:
        action: dict[str, Any] = {"_index": op.index, "_id": op.doc_id}
        if op.version is not None:
            action["version"] = op.version
            action["version_type"] = op.version_type
        operations.append({"index": action})
        operations.append(op.document)
    response = es.bulk(operations=operations, refresh=refresh, filter_path=_BULK_FIELDS)
    if not response["errors"]:
        outcome.written.extend(ops)
        return outcome
    failures: list[ItemFailure] = []
    for op, item in zip(ops, response["items"], strict=True):
        result = item["index"]
        error = result.get("error")  # (status and error only: see _BULK_FIELDS)
        if error is None:
            outcome.written.append(op)
        elif result["status"] == 409 and error.get("type") == "version_conflict_engine_exception":
            outcome.conflicts.append(op)
        else:
            status, kind, reason = int(result["status"]), str(error.get("type")), str(error.get("reason"))
            failures.append(ItemFailure(op.index, op.doc_id, status, kind, reason))
    if failures:
        raise BulkWriteFailed(failures)
    return outcome


class ReadFailed(Exception):
    """A document could not be read by id for a reason other than its absence."""

    def __init__(self, index: str, error_type: str, reason: str) -> None:
        self.error_type = error_type
        super().__init__(f"{index}: {error_type}: {reason}")

    @property
    def transient(self) -> bool:
        return self.error_type in TRANSIENT_ERROR_TYPES


@dataclass(frozen=True, slots=True)
class StoredDocument:
    doc_id: str
    version: int
    source: dict[str, Any]
    index: str = ""
    """The concrete index it was read from (an alias resolves to one)."""


def fetch(
    es: Elasticsearch, index: str, ids: Sequence[str], *, source_includes: Sequence[str] | None = None
) -> dict[str, StoredDocument]:
    """The documents of ``ids`` that exist, by id (one real-time ``mget``: no refresh needed); raises
    :class:`ReadFailed` when an id cannot be read (e.g. the index is missing)."""
    if not ids:
        return {}
    extra: dict[str, Any] = {} if source_includes is None else {"source_includes": list(source_includes)}
    response = es.mget(index=index, ids=list(ids), **extra)
    found: dict[str, StoredDocument] = {}
    for doc in response["docs"]:
        error = doc.get("error")
        if error is not None:
            raise ReadFailed(index, str(error.get("type")), str(error.get("reason")))
        if doc.get("found"):
            found[doc["_id"]] = StoredDocument(doc["_id"], int(doc["_version"]), doc["_source"], doc.get("_index", ""))
    return found


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means Elasticsearch cannot be reached or is overloaded or being reconfigured; False when
    the request itself is at fault (a mapping conflict, a malformed document): the runner's transient/poison line."""
    if isinstance(error, BulkWriteFailed | ReadFailed):
        return error.transient
    if isinstance(error, ApiError):
        return error.status_code in TRANSIENT_STATUSES or error.error in TRANSIENT_ERROR_TYPES
    if isinstance(error, SerializationError):
        return False
    if isinstance(error, TransportError):  # connection refused or reset, timeouts, TLS
        return True
    return isinstance(error, ConnectionError | TimeoutError)
