"""search_transfers against the real Elasticsearch: full text over descriptions and holder names, each filter,
facets, totals and order (PRODUCT.md §3 GET /v1/search/transfers)."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from elasticsearch import Elasticsearch
from tests.support.ledger import Partitioner, ada_and_alan

from eventledger_projections.elasticsearch import (
    ElasticsearchProjection,
    IndexNames,
    TransferQuery,
    read_position,
    search_transfers,
)
from eventledger_projections.elasticsearch.indices import ensure_progress_index
from eventledger_projections.elasticsearch.search import REFLECTED_ID


@dataclass
class Ledger:
    """Seven transfers with known descriptions, sides, currencies, amounts, times and statuses."""

    es: Elasticsearch
    index: str
    ids: dict[str, UUID]
    times: dict[str, datetime]

    def find(self, **criteria: object) -> list[str]:
        """The names of the transfers matching (the page's order), after checking total = len(items)."""
        page = search_transfers(self.es, TransferQuery(**criteria), index=self.index)  # type: ignore[arg-type]
        by_id = {str(v): k for k, v in self.ids.items()}
        found = [by_id[item["transfer_id"]] for item in page.items]
        assert page.total == len(found)
        return found


@pytest.fixture
def ledger(es: Elasticsearch, projection: ElasticsearchProjection) -> Ledger:
    script, ada, alan = ada_and_alan()
    grace = script.open("Grace Hopper", "USD")
    ids: dict[str, UUID] = {}
    times: dict[str, datetime] = {}

    def record(name: str, transfer_id: UUID) -> None:
        ids[name], times[name] = transfer_id, script.clock

    record("salary", script.deposit(ada, 300_000, "Salary for January"))
    record("rent", script.transfer(ada, alan, 95_000, "Rent for the flat"))
    record("rent-back", script.transfer(alan, ada, 5_000, "rent refund"))
    record("books", script.transfer(alan, ada, 2_500, "Books: Computable Numbers"))
    record("usd", script.deposit(grace, 12_000, "Compiler consulting"))
    record("hold", script.hold(ada, alan, 700, "Deposit for the piano"))
    record("voided", script.hold(alan, ada, 900, "Chess set"))
    script.void(ids["voided"])
    partitioner = Partitioner()
    projection.apply(partitioner.place(script.envelopes))
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    return Ledger(es, projection.names.transfers, ids, times)


def test_full_text_matches_whole_words_of_the_description_in_any_case(ledger: Ledger) -> None:
    assert sorted(ledger.find(q="RENT")) == ["rent", "rent-back"]
    assert ledger.find(q="computable") == ["books"]
    assert ledger.find(q="compute") == [], "whole words (standard analysis), not prefixes"


def test_full_text_matches_the_holder_names_of_both_sides(ledger: Ledger) -> None:
    assert sorted(ledger.find(q="turing")) == ["books", "hold", "rent", "rent-back", "voided"]
    assert ledger.find(q="grace hopper") == ["usd"]
    assert ledger.find(q="external") == ["usd", "salary"], "deposits name the external account"


def test_every_word_must_match_a_description_or_a_name(ledger: Ledger) -> None:
    assert sorted(ledger.find(q="lovelace rent")) == ["rent", "rent-back"]
    assert ledger.find(q="hopper rent") == []


def test_filters_by_currency_status_amount_and_creation_time(ledger: Ledger) -> None:
    assert ledger.find(currency="usd") == ["usd"]
    assert ledger.find(status="pending") == ["hold"]
    assert ledger.find(status="voided") == ["voided"]
    assert sorted(ledger.find(min_amount=12_000)) == ["rent", "salary", "usd"], "inclusive lower bound"
    assert sorted(ledger.find(max_amount=900)) == ["hold", "voided"], "inclusive upper bound"
    assert ledger.find(min_amount=2_500, max_amount=5_000) == ["books", "rent-back"], "newest first"
    window = {"created_from": ledger.times["rent"], "created_to": ledger.times["books"]}
    assert ledger.find(**window) == ["rent-back", "rent"], "from inclusive, to exclusive, newest first"
    later = ledger.times["hold"] - timedelta(seconds=1)
    assert ledger.find(q="ada", created_from=later) == ["voided", "hold"]


def test_total_counts_every_match_and_facets_count_them_by_currency_and_status(ledger: Ledger) -> None:
    page = search_transfers(ledger.es, TransferQuery(q="lovelace", limit=2), index=ledger.index)
    assert page.total == 6
    assert len(page.items) == 2
    facets = page.as_json()["facets"]
    assert facets["currency"] == [{"value": "EUR", "count": 6}]
    assert {f["value"]: f["count"] for f in facets["status"]} == {"posted": 4, "pending": 1, "voided": 1}
    everything = search_transfers(ledger.es, TransferQuery(), index=ledger.index)
    assert {f.value: f.count for f in everything.facets["currency"]} == {"EUR": 6, "USD": 1}


def test_items_carry_the_transfer_and_its_holders_newest_first(ledger: Ledger) -> None:
    page = search_transfers(ledger.es, TransferQuery(), index=ledger.index)
    assert [item["transfer_id"] for item in page.items][:2] == [str(ledger.ids["voided"]), str(ledger.ids["hold"])]
    rent = next(item for item in page.items if item["transfer_id"] == str(ledger.ids["rent"]))
    assert rent["from_holder_name"] == "Ada Lovelace"
    assert rent["to_holder_name"] == "Alan Turing"
    assert (rent["amount"], rent["currency"], rent["status"], rent["kind"]) == (95_000, "EUR", "posted", "transfer")
    assert rent["description"] == "Rent for the flat"


def test_the_read_position_is_what_the_projection_claims(
    es: Elasticsearch, ledger: Ledger, projection: ElasticsearchProjection
) -> None:
    assert read_position(es, progress_index=projection.names.progress) == projection.reflected_position() > 0
    assert read_position(es, progress_index=IndexNames("it-nothing-here-").progress) == 0


def _read_until(es: Elasticsearch, progress_index: str, started: threading.Event, done: threading.Event) -> None:
    started.set()
    while not done.is_set():
        assert read_position(es, progress_index=progress_index) == 0


def test_the_read_position_is_known_while_a_projector_creates_its_progress_index(es: Elasticsearch) -> None:
    # A search between the index's creation and its shard's start answers 503 (all shards failed); the query side
    # asks for the position while a projector starts, so the read waits for the shard instead of failing.
    failures: list[BaseException] = []
    for _ in range(10):
        names = IndexNames(f"it-race-{uuid.uuid4().hex[:8]}-")
        started, done = threading.Event(), threading.Event()
        with ThreadPoolExecutor(1) as pool:
            reading = pool.submit(_read_until, es, names.progress, started, done)
            started.wait()
            try:
                ensure_progress_index(es, names)
                time.sleep(0.05)
            finally:
                done.set()
                es.indices.delete(index=names.progress, ignore_unavailable=True)
            if (failure := reading.exception()) is not None:
                failures.append(failure)
    assert failures == []


def _marks_found_by_search(es: Elasticsearch, progress_index: str) -> list[int]:
    hits = es.search(index=progress_index, query={"term": {"kind": "mark"}}, size=100)["hits"]["hits"]
    return [int(hit["_source"]["caught_up_position"]) for hit in hits]


def test_a_claim_is_read_in_real_time_without_a_refresh_of_the_progress_index(
    es: Elasticsearch, projection: ElasticsearchProjection
) -> None:
    # ADR 0040: a claim writes its marks and the reflected position in one bulk request, without a refresh; the
    # read position is the reflected document, read by id.
    script, ada, _ = ada_and_alan()
    partitioner = Partitioner()
    projection.apply(partitioner.place(script.envelopes))
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    first = read_position(es, progress_index=projection.names.progress)
    assert first == script.position
    es.indices.put_settings(index=projection.names.progress, settings={"index": {"refresh_interval": "-1"}})
    es.indices.refresh(index=projection.names.progress)
    script.deposit(ada, 100, "after the refresh")
    projection.apply(partitioner.place(script.envelopes[-1:]))
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    assert read_position(es, progress_index=projection.names.progress) == script.position > first
    assert max(_marks_found_by_search(es, projection.names.progress)) == first, "the claim did not refresh"


def test_without_a_reflected_document_the_read_position_is_the_least_mark(
    es: Elasticsearch, projection: ElasticsearchProjection
) -> None:
    # A progress index written before ADR 0040 has marks only.
    script, _, _ = ada_and_alan()
    partitioner = Partitioner()
    projection.apply(partitioner.place(script.envelopes))
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    es.delete(index=projection.names.progress, id=REFLECTED_ID, refresh=True)
    assert read_position(es, progress_index=projection.names.progress) == min(
        _marks_found_by_search(es, projection.names.progress)
    )


def test_the_rebuild_cap_lowers_the_reflected_document(es: Elasticsearch, projection: ElasticsearchProjection) -> None:
    script, _, _ = ada_and_alan()
    partitioner = Partitioner()
    projection.apply(partitioner.place(script.envelopes))
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    projection.progress.set_cap(1, projection.names.transfers)
    assert read_position(es, progress_index=projection.names.progress) == 1
    projection.progress.clear_cap()
    assert read_position(es, progress_index=projection.names.progress) == script.position
