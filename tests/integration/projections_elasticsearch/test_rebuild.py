"""Rebuilds from the real event store (PostgreSQL) into the real Elasticsearch: a new version beside the live one,
one atomic alias switch, nothing lost across it, and the CLI."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from elasticsearch import Elasticsearch
from tests.support.elasticsearch_rig import (
    assert_matches_event_store,
    namespace_of,
    read_event_store,
)
from tests.support.ledger import LedgerScript, Partitioner, append_in_chunks, random_script
from tests.support.processes import scratch_database
from tests.support.servers import Endpoints

from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import EventEnvelope, TransferPendingPosted
from eventledger_infra.settings import Settings
from eventledger_projections.__main__ import main
from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames, read_position
from eventledger_projections.elasticsearch.indices import existing_versions, live_version
from eventledger_projections.elasticsearch.projection import SwitchInProgress
from eventledger_projections.elasticsearch.rebuild import ElasticsearchRebuild
from eventledger_projections.elasticsearch.wiring import build_projection, relevant_events_source, run_rebuild
from eventledger_projections.elasticsearch.writer import RELEVANT_EVENT_TYPES
from eventledger_projections.rebuild.port import RebuildRefused
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_runtime.settings import ProjectionSettings


@pytest.fixture
def store_database(endpoints: Endpoints) -> Iterator[str]:
    """A database of its own, so that the settings (EVENTLEDGER_PG_DATABASE) can name it."""
    with scratch_database(Settings.from_env()) as database:
        store = PostgresEventStore(scratch_servers(database).postgres_dsn, pool_size=2)  # creates the tables
        store.close()
        yield database


@pytest.fixture
def store_dsn(store_database: str) -> str:
    return scratch_servers(store_database).postgres_dsn


def scratch_servers(database: str) -> Settings:
    return dataclasses.replace(Settings.from_env(), pg_database=database)


def appended(dsn: str, script: LedgerScript, since: int = 0) -> list[EventEnvelope]:
    """Append the script's events from index ``since`` on; answers them as the store recorded them."""
    store = PostgresEventStore(dsn, pool_size=2, migrate_schema=False)
    try:
        append_in_chunks(store, script.envelopes[since:], chunk=1)
    finally:
        store.close()
    return read_event_store(dsn)[-(len(script.envelopes) - since) :]


_SOURCES: list[EventStoreSource] = []


@pytest.fixture(autouse=True)
def _close_sources() -> Iterator[None]:
    """Each rebuild's event-store source holds a connection pool: closed after the test."""
    yield
    while _SOURCES:
        _SOURCES.pop().close()


def rebuild(es: Elasticsearch, dsn: str, names: IndexNames, **options: object) -> ElasticsearchRebuild:
    source = relevant_events_source(dsn)
    _SOURCES.append(source)
    return ElasticsearchRebuild(es, source, source.log.safe_head, names, batch_size=50, **options)  # type: ignore[arg-type]


def test_a_rebuild_replays_the_event_store_beside_the_live_version_and_switches(
    es: Elasticsearch, names: IndexNames, store_dsn: str
) -> None:
    recorded = appended(store_dsn, random_script(seed=21))
    live = ElasticsearchProjection(es, names)
    partitioner = Partitioner()
    live.apply(partitioner.place(recorded))
    live.mark_caught_up(recorded[-1].position or 0, partitioner.high_watermarks())
    claimed = live.reflected_position()
    assert claimed == recorded[-1].position
    seen_at_switch: list[tuple[int, int, int | None]] = []

    def on_switch(cap: int) -> None:
        seen_at_switch.append((cap, read_position(es, progress_index=names.progress), live_version(es, names)))

    report = rebuild(es, store_dsn, names, on_switch=on_switch).run()
    relevant = [e for e in recorded if e.event_type in RELEVANT_EVENT_TYPES]
    assert (report.previous, report.version, report.events) == (1, 2, len(relevant)), "account legs are not read"
    assert seen_at_switch == [(claimed, claimed, 2)], "capped at what the new version held when it went live"
    assert live_version(es, names) == 2
    assert existing_versions(es, names) == {2}, "the old version is deleted"
    assert live.progress.cap() is None
    assert live.reflected_position() == claimed, "a switch keeps the live projector's progress"
    assert assert_matches_event_store(es, names, store_dsn) > 50


def test_events_applied_by_the_live_projector_just_before_the_switch_are_not_lost(
    es: Elasticsearch, names: IndexNames, store_dsn: str
) -> None:
    script = random_script(seed=22, commands=40)
    recorded = appended(store_dsn, script)
    live = ElasticsearchProjection(es, names)
    partitioner = Partitioner()
    live.apply(partitioner.place(recorded))
    ada, alan = script.open("Ada Lovelace"), script.open("Alan Turing")
    script.deposit(ada, 1000, "late deposit")
    hold = script.hold(ada, alan, 250, "late hold")
    script.post(hold)
    late_from = len(recorded)
    settlement: list[EventEnvelope] = []
    heads = relevant_events_source(store_dsn)
    calls = 0

    def safe_head() -> int:
        """On the head the pre-switch replay stops at, new events are committed and reach the live projector
        (which writes them into the old version) before the switch; the settlement is held back."""
        nonlocal calls
        calls += 1
        head = heads.log.safe_head()
        if calls == 2:
            late = appended(store_dsn, script, since=late_from)
            settlement.extend(e for e in late if isinstance(e.payload, TransferPendingPosted))
            live.apply(partitioner.place([e for e in late if e not in settlement]))
        return head

    # The settlement reaches a projector process that has not seen the hold (after a rebalance, say).
    other = ElasticsearchProjection(es, names)

    def on_switch(cap: int) -> None:
        # The creation of the hold went into the old version only: until the final catch-up brings it, its
        # settlement is retried (transient), never parked.
        with pytest.raises(SwitchInProgress):
            other.apply(partitioner.place(settlement))
        assert read_position(es, progress_index=names.progress) <= cap

    job = ElasticsearchRebuild(es, heads, safe_head, names, batch_size=25, on_switch=on_switch)
    job.run()
    heads.close()
    other.apply(partitioner.place(settlement))
    assert assert_matches_event_store(es, names, store_dsn) > 10


def test_a_second_rebuild_is_refused_while_a_version_exists_beside_the_live_one(
    es: Elasticsearch, names: IndexNames, store_dsn: str
) -> None:
    appended(store_dsn, random_script(seed=23, commands=10))
    rebuild(es, store_dsn, names).run()
    es.indices.create(index=names.transfers_version(3))  # as a crashed rebuild leaves it
    with pytest.raises(RebuildRefused, match=r"versions \[3\]"):
        rebuild(es, store_dsn, names).run()
    assert live_version(es, names) == 2
    report = rebuild(es, store_dsn, names, force=True).run()
    assert (report.previous, report.version) == (2, 4)
    assert existing_versions(es, names) == {4}
    assert_matches_event_store(es, names, store_dsn)


def test_the_cli_rebuilds_with_a_progress_line(
    es: Elasticsearch,
    names: IndexNames,
    store_dsn: str,
    store_database: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    appended(store_dsn, random_script(seed=24, commands=60))
    monkeypatch.setenv("EVENTLEDGER_PG_DATABASE", store_database)
    monkeypatch.setenv("EVENTLEDGER_NAMESPACE", namespace_of(names))
    command: Callable[[list[str]], int] = main
    assert command(["rebuild", "elasticsearch"]) == 0
    out, err = capsys.readouterr()
    assert f"rebuilt elasticsearch: {names.transfers_version(2)} from" in out
    assert "replaced v1" in out
    assert "events/s" in err
    assert "left" in err
    assert_matches_event_store(es, names, store_dsn)
    assert command(["status", "elasticsearch"]) == 0
    assert "live version: 2" in capsys.readouterr().out


def test_the_wiring_for_the_projector_process_builds_the_projection_and_runs_the_rebuild(
    es: Elasticsearch, names: IndexNames, store_database: str, store_dsn: str
) -> None:
    appended(store_dsn, random_script(seed=25, commands=30))
    settings = ProjectionSettings(namespace=namespace_of(names), rebuild_batch_size=40)
    infra = scratch_servers(store_database)
    projection = build_projection(settings, infra)
    assert projection.names == names
    assert projection.ready()
    counted: list[tuple[str, int]] = []

    class Listener:
        def planned(self, events: int) -> None:
            counted.append(("planned", events))

        def replayed(self, events: int) -> None:
            counted.append(("replayed", events))

    report = run_rebuild(settings, infra, Listener())
    assert report.version == 2
    planned = sum(n for kind, n in counted if kind == "planned")
    assert planned == sum(n for kind, n in counted if kind == "replayed") == report.events > 0
    assert_matches_event_store(es, names, store_dsn)
    projection.close()
