"""An erasure (``account.personal_data_erased``) in each read model, on the real servers: the holder's name and every
description of a transfer the holder took part in are masked to ``[erased]`` in the live copy and in every other
copy under the same base (a sandbox stands for them all: retired versions and sandboxes are found the same way),
the other holders keep theirs, balances are untouched, and a replay that meets the erasure after events still in
plaintext (an event decoded before the key was destroyed) ends masked too. The Elasticsearch purge is shown to
leave no byte of the old documents in the index files (docs/adr/0035-key-handling-for-personal-data.md)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from elasticsearch import Elasticsearch
from psycopg import sql
from tests.support.ledger import LedgerScript, Partitioner, batches
from tests.support.processes import scratch_database, wait_for
from tests.support.servers import Endpoints

import eventledger_events as ev
from eventledger_events.personal import ERASED
from eventledger_infra.settings import Settings
from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames
from eventledger_projections.elasticsearch.erasure import copies
from eventledger_projections.elasticsearch.indices import ensure_read_model
from eventledger_projections.elasticsearch.names import Target
from eventledger_projections.postgres import PostgresProjection
from eventledger_projections.redis import RedisProjection
from eventledger_projections.redis.connection import connect

NAME = "Zenobia Quillfeather"
SECRET = "zq7 rent for the houseboat"
KEPT_NAME = "Barnaby Kettleworth"
KEPT = "bk4 chess club dues"


@dataclasses.dataclass
class Story:
    script: LedgerScript
    zenobia: uuid.UUID
    barnaby: uuid.UUID
    cyril: uuid.UUID
    to_zenobia: uuid.UUID
    from_zenobia: uuid.UUID
    kept: uuid.UUID
    deposit: uuid.UUID

    def erase(self) -> None:
        erasure = ev.AccountPersonalDataErased(
            account_id=self.zenobia,
            key_id=uuid.uuid4().hex,
            erased_by="auditor-client",
            reason="the holder asked (GDPR art. 17)",
            erased_at=datetime.now(UTC),
        )
        self.script._account(self.zenobia, erasure)


def story() -> Story:
    script = LedgerScript()
    zenobia, barnaby, cyril = script.open(NAME), script.open(KEPT_NAME), script.open("Cyril Oddbody")
    deposit = script.deposit(zenobia, 1000, "zq7 salary")
    script.deposit(barnaby, 1000, "salary")
    from_zenobia = script.transfer(zenobia, barnaby, 300, SECRET)
    hold = script.hold(barnaby, zenobia, 50, "zq7 a pending gift")
    script.post(hold)
    kept = script.transfer(barnaby, cyril, 20, KEPT)
    return Story(script, zenobia, barnaby, cyril, hold, from_zenobia, kept, deposit)


def feed(projection: Any, events: list[ev.EventEnvelope], partitioner: Partitioner) -> None:
    for batch in batches(partitioner.place(events), 5):
        projection.apply(batch)


# ---------------------------------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def dsn(endpoints: Endpoints) -> Iterator[str]:
    with scratch_database(Settings.from_env()) as database:
        yield dataclasses.replace(Settings.from_env(), pg_database=database).postgres_dsn


def pg_text(dsn: str, schema: str) -> str:
    """Every row of the read model's tables in ``schema``, as text."""
    with psycopg.connect(dsn) as conn:
        return "\n".join(
            str(row)
            for table in ("accounts", "account_entries", "transfers")
            for row in conn.execute(f'SELECT * FROM "{schema}".{table}').fetchall()
        )


def test_postgres_masks_the_holder_in_every_table_and_every_copy(dsn: str) -> None:
    told = story()
    live = PostgresProjection(dsn, base_schema="read_model")
    sandbox = PostgresProjection(dsn, base_schema="read_model_sandbox_before")
    try:
        feed(live, told.script.envelopes, Partitioner())
        feed(sandbox, told.script.envelopes, Partitioner())
        assert NAME in pg_text(dsn, sandbox.version.schema)
        done = len(told.script.envelopes)
        told.erase()
        feed(live, told.script.envelopes[done:], Partitioner())
        for schema in (live.version.schema, sandbox.version.schema):
            text = pg_text(dsn, schema)
            assert NAME not in text, schema
            assert "zq7" not in text, schema
            assert KEPT_NAME in text, "the other holders keep their data"
            assert KEPT in text, "the other holders keep their data"
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT holder_name, balance FROM read_model.accounts WHERE account_id = %s", [told.zenobia]
            ).fetchone()
            assert row == (ERASED, 1000 - 300 + 50)
            lines = conn.execute(
                "SELECT description FROM read_model.account_entries WHERE transfer_id = ANY(%s)",
                [[told.from_zenobia, told.to_zenobia, told.deposit]],
            ).fetchall()
            assert {line[0] for line in lines} == {ERASED}, "both parties' lines of the holder's transfers"
    finally:
        live.close()
        sandbox.close()


def test_postgres_replay_with_plaintext_before_the_erasure_ends_masked(dsn: str) -> None:
    told = story()
    told.erase()
    late = told.script.transfer(told.barnaby, told.zenobia, 5, "zq7 decoded before the key went")
    live = PostgresProjection(dsn, base_schema="read_model")
    try:
        feed(live, told.script.envelopes, Partitioner())
        text = pg_text(dsn, live.version.schema)
        assert NAME not in text
        assert "zq7" not in text
        assert KEPT in text
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT description FROM read_model.transfers WHERE transfer_id = %s", [late])
            assert row.fetchone() == (ERASED,), "a transfer written after the erasure is masked on its way in"
    finally:
        live.close()


# ---------------------------------------------------------------------------------------------- Redis
@pytest.fixture
def redis_base(endpoints: Endpoints) -> Iterator[str]:
    base = f"erasure{uuid.uuid4().hex[:8]}"
    yield base
    client = connect(endpoints.redis_url)
    for key in client.scan_iter(match=f"{base}:*", count=1000):
        client.unlink(key)
    client.close()


def redis_text(url: str, base: str) -> str:
    client = connect(url)
    try:
        return "\n".join(
            f"{key} {client.hgetall(key)}"
            for key in client.scan_iter(match=f"{base}:*", count=1000)
            if client.type(key) == "hash"
        )
    finally:
        client.close()


def test_redis_masks_the_holder_in_every_copy(endpoints: Endpoints, redis_base: str) -> None:
    told = story()
    live = RedisProjection(connect(endpoints.redis_url), base=redis_base)
    sandbox = RedisProjection(connect(endpoints.redis_url), base=f"{redis_base}:sandbox:before")
    try:
        live.load_offsets()
        sandbox.load_offsets()
        feed(live, told.script.envelopes, Partitioner())
        feed(sandbox, told.script.envelopes, Partitioner())
        assert redis_text(endpoints.redis_url, redis_base).count(NAME) == 2
        done = len(told.script.envelopes)
        told.erase()
        feed(live, told.script.envelopes[done:], Partitioner())
        text = redis_text(endpoints.redis_url, redis_base)
        assert NAME not in text
        assert text.count(KEPT_NAME) == 2, "the other holders keep their names, in both copies"
        assert text.count(ERASED) == 2
    finally:
        live.close()
        sandbox.close()


# ---------------------------------------------------------------------------------------------- Elasticsearch
@pytest.fixture
def es(endpoints: Endpoints) -> Iterator[Elasticsearch]:
    client = Elasticsearch(endpoints.elasticsearch_url, request_timeout=60)
    yield client
    client.close()


@pytest.fixture
def names(es: Elasticsearch) -> Iterator[IndexNames]:
    chosen = IndexNames(f"erasure{uuid.uuid4().hex[:8]}-")
    yield chosen
    es.indices.delete(index=f"{chosen.prefix}*", allow_no_indices=True, expand_wildcards="all")


def es_text(es: Elasticsearch, names: IndexNames) -> str:
    transfers, holders = copies(es, names)
    es.indices.refresh(index=transfers + holders)
    page = es.search(index=transfers + holders, size=1000, query={"match_all": {}})
    return "\n".join(str(hit["_source"]) for hit in page["hits"]["hits"])


def index_files(es: Elasticsearch, index: str, data_dir: str) -> bytes:
    """Every file of ``index`` on disk (its segments and translog), concatenated."""
    uuid_ = es.indices.get_settings(index=index)[index]["settings"]["index"]["uuid"]
    root = Path(data_dir) / "indices" / uuid_
    assert root.is_dir(), f"no folder of {index} at {root} (is EVENTLEDGER_STATE_DIR the servers' state folder?)"
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_elasticsearch_masks_every_copy_and_search_no_longer_finds_the_holder(
    es: Elasticsearch, names: IndexNames, endpoints: Endpoints
) -> None:
    told = story()
    live = ElasticsearchProjection(es, names)
    sandbox = ElasticsearchProjection(es, IndexNames(f"{names.prefix}sandbox-before-"))
    feed(live, told.script.envelopes, Partitioner())
    feed(sandbox, told.script.envelopes, Partitioner())
    assert es_text(es, names).count(NAME) >= 4
    done = len(told.script.envelopes)
    told.erase()
    feed(live, told.script.envelopes[done:], Partitioner())
    text = es_text(es, names)
    assert NAME not in text
    assert "zq7" not in text
    assert KEPT_NAME in text
    assert KEPT in text
    for words in ("Zenobia", "Quillfeather", "houseboat"):
        found = es.search(index=f"{names.prefix}*transfers-v*", query={"multi_match": {"query": words}})
        assert found["hits"]["total"]["value"] == 0, words
    assert live.erasures.pending == 1


def test_elasticsearch_purge_leaves_no_old_bytes_in_the_index_files(
    es: Elasticsearch, names: IndexNames, endpoints: Endpoints
) -> None:
    data_dir = str(Settings.from_env().state_dir / "elasticsearch" / "data")
    told = story()
    live = ElasticsearchProjection(es, names)
    feed(live, told.script.envelopes, Partitioner())
    es.indices.flush(index=f"{names.prefix}*")
    index = names.transfers_version(1)
    assert NAME.encode() in index_files(es, index, data_dir)
    done = len(told.script.envelopes)
    told.erase()
    feed(live, told.script.envelopes[done:], Partitioner())
    live.erasures = type(live.erasures)(es, names, live.writer.holders.cache, interval=0.0)
    live.writer.holders.cache.lifetime = 0.0

    def purged() -> bool:
        live.erasures.tick()
        return live.erasures.pending == 0

    wait_for(purged, 120, "the erasure's purge (the retention lease moves on within about 30 s)")
    for concrete in (names.transfers_version(1), names.holders_version(1)):
        files = index_files(es, concrete, data_dir)
        assert NAME.encode() not in files, concrete
        assert b"zq7" not in files, concrete
    assert KEPT_NAME.encode() in index_files(es, names.holders_version(1), data_dir), "the search looks"


# ---------------------------------------------------------------------------------------------- errors
def test_a_postgresql_error_is_described_without_the_failing_row(dsn: str) -> None:
    """A constraint's DETAIL quotes the row: the runner logs and parks the error without it."""
    projection = PostgresProjection(dsn, base_schema="read_model")
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute(
                sql.SQL("CREATE TEMP TABLE named (holder text CHECK (holder <> {}))").format(sql.Literal(NAME))
            )
            with pytest.raises(psycopg.errors.CheckViolation) as raised:
                conn.execute("INSERT INTO named VALUES (%s)", [NAME])
        assert NAME in str(raised.value), "PostgreSQL's own text quotes the row"
        described = projection.describe(raised.value)
        assert NAME not in described
        assert "violates check constraint" in described
    finally:
        projection.close()


def test_an_elasticsearch_error_is_described_without_the_value_preview(es: Elasticsearch, names: IndexNames) -> None:
    projection = ElasticsearchProjection(es, names)
    error = ValueError(
        "mapper_parsing_exception: failed to parse field [amount] of type [long] in document with id 'x'."
        f" Preview of field's value: '{NAME}'"
    )
    described = projection.describe(error)
    assert NAME not in described
    assert "failed to parse field [amount]" in described


def test_an_elasticsearch_rebuild_that_opened_values_before_meeting_the_erasure_ends_masked(
    es: Elasticsearch, names: IndexNames
) -> None:
    """A rebuild whose reader still held the key when it read the earlier events: the erasure event it then meets
    masks what it wrote (the writer applies it to its own target)."""
    told = story()
    told.erase()
    projection = ElasticsearchProjection(es, names)
    ensure_read_model(es, names)
    for envelope in told.script.envelopes:  # one by one, as a rebuild's batches meet them
        projection.writer.write(Target.live(names), [envelope])
    text = es_text(es, names)
    assert NAME not in text
    assert "zq7" not in text
    assert KEPT_NAME in text
