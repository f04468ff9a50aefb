"""The projection applied directly (no runner) against the real Elasticsearch: documents, idempotence, order,
holder names arriving late, bulk item failures, progress and the reflected position."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch
from tests.support.elasticsearch_rig import (
    differences,
    expected_documents,
    indexed_documents,
    live_version_with_32_bit_amounts,
)
from tests.support.ledger import LedgerScript, Partitioner, ada_and_alan, batches, parked, random_script

from eventledger_events import ACCOUNTS_TOPIC, TRANSFERS_TOPIC
from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames
from eventledger_projections.elasticsearch.bulk import BulkWriteFailed
from eventledger_projections.elasticsearch.documents import UnknownTransfer
from eventledger_projections.elasticsearch.projection import SwitchInProgress


def apply_all(projection: ElasticsearchProjection, partitioner: Partitioner, script: LedgerScript, size: int) -> None:
    for batch in batches(partitioner.place(script.envelopes), size):
        projection.apply(batch)


def test_after_a_random_script_the_index_equals_a_replay(
    es: Elasticsearch, projection: ElasticsearchProjection
) -> None:
    script = random_script(seed=11)
    partitioner = Partitioner()
    apply_all(projection, partitioner, script, size=37)
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    expected = expected_documents(script.envelopes)
    assert len(expected) > 50
    assert differences(expected, indexed_documents(es, projection.names.transfers)) == []
    assert projection.reflected_position() == script.position


def test_delivering_every_event_twice_changes_nothing(es: Elasticsearch, projection: ElasticsearchProjection) -> None:
    script = random_script(seed=12)
    partitioner = Partitioner()
    apply_all(projection, partitioner, script, size=50)
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    before = indexed_documents(es, projection.names.transfers)
    apply_all(projection, partitioner, script, size=23)  # again, at new offsets, cut into other batches
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    assert indexed_documents(es, projection.names.transfers) == before, "documents and their versions unchanged"
    assert projection.last_report is not None
    assert projection.last_report.transfers == 0
    offsets = projection.load_offsets()
    assert offsets == {tp: high for tp, high in partitioner.high_watermarks().items() if high}


def test_an_older_event_never_overwrites_a_newer_document(es: Elasticsearch, names: IndexNames) -> None:
    script, ada, alan = ada_and_alan()
    hold = script.hold(ada, alan, 300, "deposit for the flat")
    creation = len(script.envelopes) - 2  # transfer.pending_created, then the hold on Ada's account
    script.void(hold)
    placed = Partitioner().place(script.envelopes)
    live = ElasticsearchProjection(es, names)
    live.apply(placed)
    # The same creation again, through this process and through another one that has never seen the transfer
    # (no cached state): the fold skips it here, Elasticsearch refuses its version there.
    late = ElasticsearchProjection(es, names)
    for projection in (live, late):
        projection.apply([placed[creation]])
    assert late.last_report is not None
    assert late.last_report.conflicts == 1
    document = indexed_documents(es, names.transfers)[str(hold)]
    assert (document["status"], document["stream_version"]) == ("voided", 2)


def test_a_transfer_indexed_before_its_accounts_opening_gets_the_names_before_the_position_is_claimed(
    es: Elasticsearch, projection: ElasticsearchProjection
) -> None:
    script, ada, alan = ada_and_alan()
    transfer = script.transfer(ada, alan, 120, "chess lessons")
    partitioner = Partitioner()
    placed = partitioner.place(script.envelopes)
    accounts = [e for e in placed if e.topic_partition[0] == ACCOUNTS_TOPIC]
    projection.apply([e for e in placed if e not in accounts])  # the transfers' partition is ahead
    first = indexed_documents(es, projection.names.transfers)[str(transfer)]
    assert first["from_holder_name"] is None
    assert sorted(first["pending_holders"]) == sorted([str(ada), str(alan)])
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    assert projection.reflected_position() < accounts[0].position, "the accounts' partitions are not caught up"
    projection.apply(accounts)
    projection.mark_caught_up(script.position, partitioner.high_watermarks())
    assert projection.reflected_position() == script.position
    completed = indexed_documents(es, projection.names.transfers)[str(transfer)]
    assert (completed["from_holder_name"], completed["to_holder_name"]) == ("Ada Lovelace", "Alan Turing")
    assert completed["pending_holders"] == []
    assert completed["_version"] == 4 + 3, "stream version 1, both names known"


def test_a_bulk_item_refused_by_the_mapping_fails_the_batch_and_moves_no_progress(
    es: Elasticsearch, names: IndexNames
) -> None:
    # Version 1 made by hand with amounts as 32-bit integers: a large amount is refused by the mapping.
    live_version_with_32_bit_amounts(es, names)
    script = LedgerScript()
    ada = script.open("Ada Lovelace")
    small = script.deposit(ada, 500, "pocket money")
    large = script.deposit(ada, 2**40, "lottery")
    projection = ElasticsearchProjection(es, names)
    placed = Partitioner().place(script.envelopes)
    with pytest.raises(BulkWriteFailed) as failed:
        projection.apply(placed)
    assert [(f.doc_id, f.status) for f in failed.value.failures] == [(str(large), 400)]
    assert "document_parsing_exception" in str(failed.value)
    assert not projection.is_transient(failed.value), "the runner must isolate and park it, not retry forever"
    assert projection.load_offsets() == {}, "no progress past a batch that failed"
    assert set(indexed_documents(es, names.transfers)) == {str(small)}, "written items are harmless to rewrite"


def test_a_settlement_of_an_unknown_transfer_is_poison_unless_a_switch_is_catching_up(
    es: Elasticsearch, projection: ElasticsearchProjection
) -> None:
    script, ada, alan = ada_and_alan()
    hold = script.hold(ada, alan, 10, "hold")
    script.post(hold)
    settlement = [e for e in Partitioner().place(script.envelopes) if e.envelope.stream_id == f"transfer-{hold}"][1:]
    with pytest.raises(UnknownTransfer) as unknown:
        projection.apply(settlement)
    assert not projection.is_transient(unknown.value)
    projection.progress.set_cap(1, projection.names.transfers_version(2))
    with pytest.raises(SwitchInProgress) as waiting:
        projection.apply(settlement)
    assert projection.is_transient(waiting.value)


def test_progress_offsets_parked_messages_and_the_reflected_position(projection: ElasticsearchProjection) -> None:
    script = LedgerScript()
    ada = script.open("Ada Lovelace")
    for amount in (10, 20, 30):
        script.deposit(ada, amount, "top-up")
    partitioner = Partitioner()
    placed = partitioner.place(script.envelopes)
    watermarks = partitioner.high_watermarks()
    assert projection.load_offsets() == {}
    projection.mark_caught_up(script.position, {tp: 0 if high == 0 else high for tp, high in watermarks.items()})
    assert projection.reflected_position() == 0, "partitions with events not applied hold it at 0"

    poison, rest = placed[-1], placed[:-1]
    projection.apply(rest)
    projection.skip(parked([poison]))
    projection.skip(parked([poison]))  # idempotent
    projection.mark_caught_up(script.position, watermarks)
    assert projection.reflected_position() == script.position
    assert projection.progress.parked_count() == 1
    assert projection.load_offsets() == {tp: high for tp, high in watermarks.items() if high}
    marks = projection.progress.marks()
    assert set(marks) == set(watermarks), "every listed partition has a mark, even one never read"
    assert {topic for topic, _ in marks} == {ACCOUNTS_TOPIC, TRANSFERS_TOPIC}

    # A lower relay position never lowers a mark.
    projection.mark_caught_up(1, watermarks)
    assert projection.reflected_position() == script.position
