"""One contract suite for the three read models: the same event script, fed to the PostgreSQL, Redis and
Elasticsearch projections through the projection port, gives the same answers wherever a read model answers that
question (balances, statement entries, transfer lookups, the reflected position). Real servers; each test works in
its own database, key base or index prefix, removed afterwards."""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from elasticsearch import Elasticsearch, NotFoundError
from psycopg_pool import ConnectionPool
from tests.support.processes import scratch_database
from tests.support.servers import Endpoints

from eventledger_command.application.commands import (
    Deposit,
    FreezeAccount,
    MakeTransfer,
    OpenAccount,
    PostTransfer,
    VoidTransfer,
    Withdraw,
)
from eventledger_command.bootstrap import build
from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_events import EventEnvelope, EventMetadata, topic_for
from eventledger_infra.settings import Settings
from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames
from eventledger_projections.postgres import PostgresProjection
from eventledger_projections.redis import RedisProjection, RedisReadModel
from eventledger_projections.redis.connection import connect
from eventledger_projections.runtime.port import ConsumedEvent, LogMessage, Projection
from eventledger_query.readers import PostgresReadModelReader
from eventledger_runtime.settings import CommandSettings


# ---------------------------------------------------------------------- the script
@dataclass(frozen=True)
class Script:
    """A ledger's history, written by the command side (in memory), and the answers it must give."""

    events: list[EventEnvelope]
    ada: uuid.UUID
    bob: uuid.UUID
    cy: uuid.UUID
    posted: uuid.UUID
    held_then_posted: uuid.UUID
    held_then_voided: uuid.UUID
    still_pending: uuid.UUID


def ledger_script() -> Script:
    container = build(CommandSettings(store="memory"))
    metadata = EventMetadata(actor="contract", correlation_id=uuid.uuid4())
    ada, bob, cy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    posted, held_then_posted, held_then_voided, still_pending = (uuid.uuid4() for _ in range(4))
    commands: list[Any] = [
        OpenAccount(ada, "Ada Lovelace", "EUR"),
        OpenAccount(bob, "Bob Babbage", "EUR", overdraft_limit=500),
        OpenAccount(cy, "Cy Hopper", "EUR"),
        Deposit(uuid.uuid4(), ada, 1000),
        Deposit(uuid.uuid4(), bob, 250),
        MakeTransfer(posted, ada, bob, 300, description="rent"),
        MakeTransfer(held_then_posted, bob, cy, 400, pending=True, timeout_seconds=3600),
        PostTransfer(held_then_posted),
        MakeTransfer(held_then_voided, ada, cy, 100, pending=True, timeout_seconds=3600),
        VoidTransfer(held_then_voided),
        MakeTransfer(still_pending, ada, cy, 50, pending=True, timeout_seconds=3600),
        Withdraw(uuid.uuid4(), cy, 30),
        FreezeAccount(cy),
    ]
    for command in commands:
        container.bus.execute(command, metadata)
    events = [to_envelope(r) for r in container.store.read_all(limit=1000)]
    return Script(events, ada, bob, cy, posted, held_then_posted, held_then_voided, still_pending)


# ---------------------------------------------------------------------- the read models
class ReadModel:
    """A projection and the reads its read model answers; ``answers`` names the questions it answers (the others
    answer ``None``, as they do here)."""

    projection: Projection
    answers: frozenset[str] = frozenset()

    def visible(self) -> None:
        """Make what was applied visible to reads (a refresh, where the store needs one)."""

    def balance(self, account_id: uuid.UUID) -> tuple[int, int] | None:
        """(balance, available), or None if this read model keeps no balances."""
        return None

    def statement(self, account_id: uuid.UUID) -> list[int] | None:
        """The account's balances after each posted entry, in order; None if this read model keeps none."""
        return None

    def transfer(self, transfer_id: uuid.UUID) -> tuple[str, int] | None:
        """(status, amount), or None if this read model keeps no transfers."""
        return None


class PostgresReadModel(ReadModel):
    answers = frozenset({"balances", "statements", "transfers"})

    def __init__(self, dsn: str) -> None:
        self.projection: Projection = PostgresProjection(dsn, base_schema="read_model")
        self._pool = ConnectionPool(dsn, min_size=1, max_size=1, open=True, kwargs={"autocommit": True})
        self._reader = PostgresReadModelReader(self._pool, "read_model")

    def balance(self, account_id: uuid.UUID) -> tuple[int, int] | None:
        row = self._reader.account(account_id)
        assert row is not None
        return int(row["balance"]), int(row["available"])

    def statement(self, account_id: uuid.UUID) -> list[int] | None:
        return [int(row["balance_after"]) for row in self._reader.entries(account_id, None, None, 100, None)]

    def transfer(self, transfer_id: uuid.UUID) -> tuple[str, int] | None:
        row = self._reader.transfer(transfer_id)
        assert row is not None
        return str(row["status"]), int(row["amount"])

    def close(self) -> None:
        self._pool.close()
        self.projection.close()


class RedisBalances(ReadModel):
    answers = frozenset({"balances"})

    def __init__(self, url: str, base: str) -> None:
        self._client = connect(url)
        self.projection: Projection = RedisProjection(connect(url), base=base)
        self._reads = RedisReadModel(self._client, base=base)

    def balance(self, account_id: uuid.UUID) -> tuple[int, int] | None:
        view = self._reads.account(account_id)
        assert view is not None
        return view.balance, view.available

    def close(self) -> None:
        self.projection.close()
        self._client.close()


class ElasticsearchTransfers(ReadModel):
    answers = frozenset({"transfers"})

    def __init__(self, es: Elasticsearch, names: IndexNames) -> None:
        self.projection: Projection = ElasticsearchProjection(es, names)
        self._es = es
        self._names = names

    def visible(self) -> None:
        self._es.indices.refresh(index=[self._names.transfers, self._names.holders])

    def transfer(self, transfer_id: uuid.UUID) -> tuple[str, int] | None:
        try:
            found = self._es.search(index=self._names.transfers, query={"ids": {"values": [str(transfer_id)]}})
        except NotFoundError:
            return None
        (hit,) = found["hits"]["hits"]
        return str(hit["_source"]["status"]), int(hit["_source"]["amount"])


@pytest.fixture(params=["postgres", "redis", "elasticsearch"])
def read_model(request: pytest.FixtureRequest, endpoints: Endpoints) -> Iterator[ReadModel]:
    namespace = f"contract{uuid.uuid4().hex[:8]}"
    if request.param == "postgres":
        with scratch_database(Settings.from_env()) as database:
            dsn = dataclasses.replace(Settings.from_env(), pg_database=database).postgres_dsn
            postgres = PostgresReadModel(dsn)
            try:
                yield postgres
            finally:
                postgres.close()
    elif request.param == "redis":
        redis_model = RedisBalances(endpoints.redis_url, namespace)
        try:
            yield redis_model
        finally:
            redis_model.close()
            client = connect(endpoints.redis_url)
            for key in client.scan_iter(match=f"{namespace}:*", count=1000):
                client.unlink(key)
            client.close()
    else:
        es = Elasticsearch(endpoints.elasticsearch_url, request_timeout=30)
        names = IndexNames(f"{namespace}-")
        try:
            yield ElasticsearchTransfers(es, names)
        finally:
            es.indices.delete(index=f"{names.prefix}*", allow_no_indices=True, expand_wildcards="all")
            es.close()


def feed(read_model: ReadModel, events: Sequence[EventEnvelope], batch: int = 4) -> None:
    """Apply ``events`` in batches as the runner would (one partition per topic, offsets in log order), then
    tell the projection that it reached the high watermarks with the last event published (ADR 0007)."""
    offsets: dict[str, int] = defaultdict(int)
    consumed = []
    for envelope in events:
        topic = "contract." + topic_for(envelope.stream_id)
        consumed.append(ConsumedEvent(envelope, LogMessage(topic, 0, offsets[topic], None, None)))
        offsets[topic] += 1
    for start in range(0, len(consumed), batch):
        read_model.projection.apply(consumed[start : start + batch])
    last = max(event.position or 0 for event in events)
    read_model.projection.mark_caught_up(last, {(topic, 0): count for topic, count in offsets.items()})
    read_model.visible()


# ---------------------------------------------------------------------- the contract
def answers_of(read_model: ReadModel, script: Script) -> dict[str, object]:
    """Every answer the read model gives about the script, by question."""
    accounts = {"ada": script.ada, "bob": script.bob, "cy": script.cy}
    transfers = {
        "posted": script.posted,
        "held then posted": script.held_then_posted,
        "held then voided": script.held_then_voided,
        "still pending": script.still_pending,
    }
    found: dict[str, object] = {"reflected position": read_model.projection.reflected_position()}
    if "balances" in read_model.answers:
        found["balances"] = {name: read_model.balance(account) for name, account in accounts.items()}
    if "statements" in read_model.answers:
        found["statements"] = {name: read_model.statement(account) for name, account in accounts.items()}
    if "transfers" in read_model.answers:
        found["transfers"] = {name: read_model.transfer(transfer) for name, transfer in transfers.items()}
    return found


def expected_answers(read_model: ReadModel, script: Script) -> dict[str, object]:
    """What the script must leave, in minor units: Ada 1000 - 300 = 700 with 50 held; Bob 250 + 300 - 400 = 150
    with an overdraft of 500; Cy 400 - 30 = 370, frozen. Transfers keep their final status."""
    expected: dict[str, object] = {"reflected position": script.events[-1].position}
    every = {
        "balances": {"ada": (700, 650), "bob": (150, 650), "cy": (370, 370)},
        "statements": {"ada": [1000, 700], "bob": [250, 550, 150], "cy": [400, 370]},
        "transfers": {
            "posted": ("posted", 300),
            "held then posted": ("posted", 400),
            "held then voided": ("voided", 100),
            "still pending": ("pending", 50),
        },
    }
    expected.update({question: answer for question, answer in every.items() if question in read_model.answers})
    return expected


def test_the_script_gives_the_same_answers_in_every_read_model(read_model: ReadModel) -> None:
    script = ledger_script()
    feed(read_model, script.events)
    assert answers_of(read_model, script) == expected_answers(read_model, script)


def test_the_script_redelivered_in_other_batches_gives_the_same_answers(read_model: ReadModel) -> None:
    script = ledger_script()
    feed(read_model, script.events, batch=100)
    feed(read_model, script.events, batch=3)  # redelivered, in other batches
    feed(read_model, script.events[:7], batch=2)  # an older piece after the whole
    assert answers_of(read_model, script) == expected_answers(read_model, script)


def test_a_claim_answers_the_reflected_position_it_leaves(read_model: ReadModel) -> None:
    # ADR 0040: the runner takes the reflected position from the claim's answer instead of reading it again.
    script = ledger_script()
    half = len(script.events) // 2
    feed(read_model, script.events[:half])
    projection = read_model.projection
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for envelope in script.events:
        counts[("contract." + topic_for(envelope.stream_id), 0)] += 1
    behind = {tp: count + 1 for tp, count in counts.items()}  # no partition reached its high watermark
    answered = projection.claim(script.events[-1].position or 0, behind)
    assert answered == projection.reflected_position() == script.events[half - 1].position
    feed(read_model, script.events)
    answered = projection.claim(script.events[-1].position or 0, counts)
    assert answered == projection.reflected_position() == script.events[-1].position
