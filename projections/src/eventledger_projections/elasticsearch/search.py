"""The reads the query side makes of this read model: transfer search with facets, and the position it reflects.

The query service imports this module (and :mod:`.names`) as its read helper (docs/adr/0012-query-side.md), so the
layout it reads (aliases, progress marks, the rebuild cap) is described in one package. It imports nothing else of
EventLedger, so that the query side pulls in no projector code with it.

Search semantics (GET /v1/search/transfers, PRODUCT.md §3):

- ``q``: full text over the description and both holder names; every word must appear in one of them
  (``cross_fields``, operator ``and``, standard analysis: case-insensitive, whole words);
- ``currency`` and ``status``: exact; ``min_amount`` / ``max_amount``: inclusive bounds in minor units;
  ``created_from`` inclusive, ``created_to`` exclusive, on ``created_at``;
- ``total`` counts every match exactly; ``items`` are the first ``limit`` (best match first with ``q``, otherwise
  newest first; ties by transfer id); ``facets`` count the matches by currency and by status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from elasticsearch import ApiError, Elasticsearch, NotFoundError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURRENCY_FACETS = 200
STATUSES = ("pending", "posted", "voided", "expired")
ITEM_FIELDS = (
    "transfer_id",
    "kind",
    "status",
    "from_account_id",
    "from_holder_name",
    "to_account_id",
    "to_holder_name",
    "amount",
    "currency",
    "description",
    "created_at",
    "updated_at",
    "expires_at",
    "position",
)


@dataclass(frozen=True, slots=True)
class TransferQuery:
    """A search request; validated on construction (``ValueError`` names the bad field)."""

    q: str | None = None
    currency: str | None = None
    status: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit: must be between 1 and {MAX_LIMIT}")
        for name in ("min_amount", "max_amount"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name}: must not be negative")
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            raise ValueError("min_amount: must not exceed max_amount")
        for name in ("created_from", "created_to"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name}: needs a time zone")
        if self.created_from and self.created_to and self.created_from >= self.created_to:
            raise ValueError("created_from: must be before created_to")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"status: one of {', '.join(STATUSES)}")
        if self.currency is not None and not (len(self.currency) == 3 and self.currency.isalpha()):
            raise ValueError("currency: three letters (ISO 4217)")

    def body(self) -> dict[str, Any]:
        """The search request body."""
        filters: list[dict[str, Any]] = []
        if self.currency:
            filters.append({"term": {"currency": self.currency.upper()}})
        if self.status:
            filters.append({"term": {"status": self.status}})
        amount = {k: v for k, v in (("gte", self.min_amount), ("lte", self.max_amount)) if v is not None}
        if amount:
            filters.append({"range": {"amount": amount}})
        created = {k: v.isoformat() for k, v in (("gte", self.created_from), ("lt", self.created_to)) if v is not None}
        if created:
            filters.append({"range": {"created_at": created}})
        text = (self.q or "").strip()
        must: list[dict[str, Any]] = []
        if text:
            must.append(
                {
                    "multi_match": {
                        "query": text,
                        "type": "cross_fields",
                        "fields": ["description", "holder_names"],
                        "operator": "and",
                    }
                }
            )
        newest_first = [{"created_at": "desc"}, {"transfer_id": "asc"}]
        return {
            "query": {"bool": {"must": must, "filter": filters}},
            "sort": ["_score", *newest_first] if text else newest_first,
            "size": self.limit,
            "track_total_hits": True,
            "_source": list(ITEM_FIELDS),
            "aggs": {
                "currency": {"terms": {"field": "currency", "size": MAX_CURRENCY_FACETS}},
                "status": {"terms": {"field": "status", "size": len(STATUSES)}},
            },
        }


@dataclass(frozen=True, slots=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    items: list[dict[str, Any]]
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The answer body of GET /v1/search/transfers."""
        return {
            "total": self.total,
            "items": self.items,
            "facets": {
                name: [{"value": f.value, "count": f.count} for f in counts] for name, counts in self.facets.items()
            },
        }


def search_transfers(es: Elasticsearch, query: TransferQuery, *, index: str) -> SearchPage:
    """Run ``query`` against ``index`` (the read model's transfers alias, e.g. ``eventledger-transfers``)."""
    response = es.search(index=index, body=query.body())
    hits = response["hits"]
    items = [{name: hit["_source"].get(name) for name in ITEM_FIELDS} for hit in hits["hits"]]
    facets = {
        name: [FacetCount(str(bucket["key"]), int(bucket["doc_count"])) for bucket in aggregation["buckets"]]
        for name, aggregation in response["aggregations"].items()
    }
    return SearchPage(total=int(hits["total"]["value"]), items=items, facets=facets)


_T = TypeVar("_T")
SHARD_START_TIMEOUT = "10s"
REFLECTED_ID = "reflected"
"""The progress document that holds the reflected position itself, written by each claim with its marks."""
CAP_ID = "cap"
SHARD_NOT_STARTED = frozenset({"no_shard_available_action_exception", "unavailable_shards_exception"})


class PositionUnreadable(Exception):
    """The progress index answered a read of the reflected position with an error other than its absence."""


def _search_progress(es: Elasticsearch, progress_index: str) -> Any:
    return es.search(
        index=progress_index,
        query={"terms": {"kind": ["mark", "cap"]}},
        size=10_000,
        source_includes=["kind", "caught_up_position", "position"],
    )


def _get_reflected(es: Elasticsearch, progress_index: str) -> dict[str, int] | None:
    """``{"reflected": position, "cap": position}`` as far as they exist (one real-time ``mget``: no refresh
    needed); None when the progress index does not exist. Raises ``_ShardNotStarted`` while its shard starts."""
    response = es.mget(index=progress_index, ids=[REFLECTED_ID, CAP_ID], source_includes=["position"])
    found: dict[str, int] = {}
    for doc in response["docs"]:
        error = doc.get("error")
        if error is not None:
            kind = str(error.get("type"))
            if kind == "index_not_found_exception":
                return None
            if kind in SHARD_NOT_STARTED:
                raise _ShardNotStarted(kind)
            raise PositionUnreadable(f"{progress_index}/{doc.get('_id')}: {kind}: {error.get('reason')}")
        if doc.get("found"):
            found[doc["_id"]] = int(doc["_source"]["position"])
    return found


class _ShardNotStarted(Exception):
    pass


def _waiting_for_the_shard(es: Elasticsearch, progress_index: str, read: Callable[[], _T]) -> _T:
    """``read()``, once more after the progress index's shard started if it answered that it had not: a projector
    is creating the index at this moment, and a read in between answers 503 (a search: all shards failed; a get:
    no shard available). The progress index has one primary shard; health is already "yellow" before it starts,
    hence the shard count."""
    try:
        return read()
    except (ApiError, _ShardNotStarted) as exc:
        if isinstance(exc, ApiError) and (exc.meta.status != 503 or isinstance(exc, NotFoundError)):
            raise
    es.cluster.health(index=progress_index, wait_for_active_shards="1", timeout=SHARD_START_TIMEOUT)
    return read()


def read_position(es: Elasticsearch, *, progress_index: str) -> int:
    """The global position the read model reflects (for ``X-Read-Position``): every event at or below it is
    visible to searches; 0 while nothing is known. Lowered to the rebuild cap while a version switch catches up.

    The position is the ``reflected`` document each claim writes together with its marks, read in real time (a
    claim need not refresh the progress index for it to be seen). Where it is absent (a progress index written
    before it existed), the least position mark over the consumed partitions, found by search."""
    try:
        documents = _waiting_for_the_shard(es, progress_index, lambda: _get_reflected(es, progress_index))
    except NotFoundError:
        return 0
    if documents is None:
        return 0
    if REFLECTED_ID in documents:
        return min(documents.values())
    try:
        response = _waiting_for_the_shard(es, progress_index, lambda: _search_progress(es, progress_index))
    except NotFoundError:
        return 0
    marks: list[int] = []
    caps: list[int] = []
    for hit in response["hits"]["hits"]:
        source = hit["_source"]
        if source["kind"] == "mark":
            marks.append(int(source["caught_up_position"]))
        else:
            caps.append(int(source["position"]))
    if not marks:
        return 0
    return min([*marks, *caps])
