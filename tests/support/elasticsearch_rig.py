"""Support for the Elasticsearch projection's integration and fault tests: index clean-up, the checker that
compares the index with a replay of the event store, a random workload over the command service's HTTP API, and
a harness that runs the relay and the projection runner on real Kafka in a topic namespace of their own."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from elasticsearch import Elasticsearch

import eventledger_events as ev
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.relay.relay import Relay
from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames
from eventledger_projections.elasticsearch.holders import EXTERNAL_HOLDER_NAME
from eventledger_projections.elasticsearch.mappings import HOLDERS_MAPPING, TRANSFERS_MAPPING
from eventledger_projections.rebuild.source import EventStoreSource
from eventledger_projections.runtime.kafka import KafkaDeadLetterSink, KafkaEventLog
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_projections.runtime.runner import ProjectionRunner, RunnerConfig
from eventledger_runtime.eventlog import RELAY_CHECKPOINT, PostgresEventLogReader
from eventledger_runtime.personal.opener import opener_for, unopened
from eventledger_runtime.settings import Namespace
from tests.support.projection_rig import create_topics, delete_topics, relay_running

COMPARED = (
    "transfer_id",
    "kind",
    "status",
    "from_account_id",
    "to_account_id",
    "from_holder_name",
    "to_holder_name",
    "amount",
    "currency",
    "description",
    "created_at",
    "updated_at",
    "expires_at",
    "stream_version",
    "position",
    "pending_holders",
)


def fresh_names(tag: str = "it") -> IndexNames:
    """The index names of a fresh namespace (see :func:`namespace_of`)."""
    return IndexNames(Namespace(f"{tag}-{uuid.uuid4().hex[:10]}").index_prefix)


def namespace_of(names: IndexNames) -> str:
    """The namespace (EVENTLEDGER_NAMESPACE) whose index prefix ``names`` has."""
    namespace = names.prefix.removesuffix("-eventledger-")
    assert Namespace(namespace).index_prefix == names.prefix
    return namespace


def drop_read_model(es: Elasticsearch, names: IndexNames) -> None:
    """Delete every index this test's prefix made, by exact name (and nothing else)."""
    found = es.indices.get(index=f"{names.prefix}*", expand_wildcards="all", allow_no_indices=True).body
    if found:
        es.indices.delete(index=list(found))


def live_version_with_32_bit_amounts(es: Elasticsearch, names: IndexNames) -> None:
    """Version 1 made by hand, live, with amounts as 32-bit integers: the mapping refuses a large amount."""
    narrow = {**TRANSFERS_MAPPING, "properties": {**TRANSFERS_MAPPING["properties"], "amount": {"type": "integer"}}}
    es.indices.create(index=names.transfers_version(1), mappings=narrow)
    es.indices.create(index=names.holders_version(1), mappings=HOLDERS_MAPPING)
    es.indices.update_aliases(
        actions=[
            {"add": {"index": names.transfers_version(1), "alias": names.transfers}},
            {"add": {"index": names.holders_version(1), "alias": names.holders}},
        ]
    )


# ---------------------------------------------------------------------- the checker
def expected_documents(envelopes: Iterable[ev.EventEnvelope]) -> dict[str, dict[str, Any]]:
    """Every transfer document as a replay of ``envelopes`` in position order gives it (written independently of
    the projection's fold, so that a mistake there shows)."""
    names: dict[str, str] = {}
    docs: dict[str, dict[str, Any]] = {}
    settled = {ev.TransferPendingPosted: "posted", ev.TransferVoided: "voided", ev.TransferExpired: "expired"}
    for envelope in sorted(envelopes, key=lambda e: e.position or 0):
        payload = envelope.payload
        if isinstance(payload, ev.AccountOpened):
            names[str(payload.account_id)] = payload.holder_name
        elif isinstance(payload, ev.TransferPosted | ev.TransferPendingCreated):
            docs[str(payload.transfer_id)] = {
                "transfer_id": str(payload.transfer_id),
                "kind": payload.kind.value,
                "status": "pending" if isinstance(payload, ev.TransferPendingCreated) else "posted",
                "from_account_id": str(payload.from_account_id),
                "to_account_id": str(payload.to_account_id),
                "amount": payload.amount,
                "currency": payload.currency,
                "description": payload.description,
                "created_at": envelope.occurred_at,
                "updated_at": envelope.occurred_at,
                "expires_at": payload.expires_at if isinstance(payload, ev.TransferPendingCreated) else None,
                "stream_version": envelope.stream_version,
                "position": envelope.position,
            }
        elif type(payload) in settled:
            doc = docs[envelope.stream_id.removeprefix("transfer-")]
            doc.update(
                status=settled[type(payload)],
                updated_at=envelope.occurred_at,
                stream_version=envelope.stream_version,
                position=envelope.position,
            )
    for doc in docs.values():
        external = str(ev.external_account_id(doc["currency"]))
        for side in ("from", "to"):
            account = doc[f"{side}_account_id"]
            doc[f"{side}_holder_name"] = EXTERNAL_HOLDER_NAME if account == external else names[account]
        doc["pending_holders"] = []
    return docs


def indexed_documents(es: Elasticsearch, index: str) -> dict[str, dict[str, Any]]:
    """Every document of ``index`` (after a refresh), with its instants parsed."""
    es.indices.refresh(index=index)
    found: dict[str, dict[str, Any]] = {}
    after: list[Any] | None = None
    while True:
        page = es.search(index=index, size=1000, sort=[{"transfer_id": "asc"}], search_after=after, version=True)
        hits = page["hits"]["hits"]
        if not hits:
            return found
        after = hits[-1]["sort"]
        for hit in hits:
            source = dict(hit["_source"])
            for name in ("created_at", "updated_at", "expires_at"):
                if source.get(name) is not None:
                    source[name] = datetime.fromisoformat(source[name])
            source["_version"] = hit["_version"]
            found[hit["_id"]] = source


def differences(expected: dict[str, dict[str, Any]], indexed: dict[str, dict[str, Any]]) -> list[str]:
    """What differs between the replay and the index, one line per difference (empty when equal)."""
    lines = [f"missing {t}" for t in sorted(set(expected) - set(indexed))]
    lines += [f"unexpected {t}" for t in sorted(set(indexed) - set(expected))]
    for transfer_id in sorted(set(expected) & set(indexed)):
        for name in COMPARED:
            want, got = expected[transfer_id][name], indexed[transfer_id].get(name)
            if want != got:
                lines.append(f"{transfer_id}.{name}: expected {want!r}, indexed {got!r}")
    return lines


def assert_matches_event_store(es: Elasticsearch, names: IndexNames, dsn: str) -> int:
    """The live index equals a replay of the whole event store; answers how many transfers were compared."""
    envelopes = read_event_store(dsn)
    expected = expected_documents(envelopes)
    diff = differences(expected, indexed_documents(es, names.transfers))
    assert not diff, f"{len(diff)} differences, first: {diff[:10]}"
    return len(expected)


# ---------------------------------------------------------------------- the event store
def read_event_store(dsn: str) -> list[ev.EventEnvelope]:
    """Every event of the store up to a safe head, in position order."""
    source = EventStoreSource(PostgresEventLogReader(dsn))
    try:
        head, cursor = source.log.safe_head(), 0
        envelopes: list[ev.EventEnvelope] = []
        while page := source.read(cursor, head, 5000):
            envelopes.extend(page)
            cursor = page[-1].position or cursor
        return envelopes
    finally:
        source.close()


# ---------------------------------------------------------------------- a workload over HTTP
HOLDERS = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"]
WORDS = ["rent", "groceries", "salary", "invoice", "refund", "coffee", "books", "travel", "gift", "tuition"]


@dataclass
class Workload:
    """Random commands against the command service: accounts, deposits, withdrawals, transfers, holds posted,
    voided or left to expire. Refusals (insufficient funds) are part of the game."""

    url: str
    seed: int
    accounts: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    accepted: int = 0

    def run(self, commands: int, stop: threading.Event | None = None) -> int:
        rng = random.Random(self.seed)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while len(self.accounts) < 4:
                self._open(client, rng)
            for _ in range(commands):
                if stop is not None and stop.is_set():
                    break
                self._one(client, rng)
        return self.accepted

    def _one(self, client: httpx.Client, rng: random.Random) -> None:
        roll = rng.random()
        text = f"{rng.choice(WORDS)} {rng.choice(WORDS)} #{rng.randrange(1000)}"
        if roll < 0.1:
            self._open(client, rng)
        elif roll < 0.35:
            self._send(
                client,
                "/v1/deposits",
                {"account_id": rng.choice(self.accounts), "amount": rng.randint(100, 9000), "description": text},
            )
        elif roll < 0.45:
            self._send(
                client,
                "/v1/withdrawals",
                {"account_id": rng.choice(self.accounts), "amount": rng.randint(1, 500), "description": text},
            )
        elif roll < 0.8:
            source, target = rng.sample(self.accounts, 2)
            pending = rng.random() < 0.4
            body: dict[str, Any] = {
                "from_account_id": source,
                "to_account_id": target,
                "amount": rng.randint(1, 900),
                "description": text,
            }
            if pending:
                body |= {"pending": True, "timeout_seconds": rng.choice([1, 3600])}
            answer = self._send(client, "/v1/transfers", body)
            if answer is not None and pending:
                self.pending.append(answer["transfer_id"])
        elif self.pending:
            transfer_id = self.pending.pop(rng.randrange(len(self.pending)))
            self._send(client, f"/v1/transfers/{transfer_id}/{rng.choice(['post', 'void'])}", None)

    def _open(self, client: httpx.Client, rng: random.Random) -> None:
        name = f"{rng.choice(HOLDERS)} {rng.randrange(100)}"
        answer = self._send(
            client, "/v1/accounts", {"holder_name": name, "currency": rng.choice(["EUR", "EUR", "USD"])}
        )
        if answer is not None:
            self.accounts.append(answer["account_id"])

    def _send(self, client: httpx.Client, path: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
        answer = client.post(path, json=body)
        if answer.status_code in (200, 201):
            self.accepted += 1
            return dict(answer.json())
        assert answer.status_code in (409, 404), f"{path}: {answer.status_code} {answer.text}"
        return None


def wait_until_reflected(projection: ElasticsearchProjection, dsn: str, timeout: float = 90.0) -> int:
    """Wait until the projection claims the whole event store (head read anew each time); answers the head."""
    log = PostgresEventLogReader(dsn, pool_size=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            head, reflected = log.safe_head(), projection.reflected_position()
            if reflected >= head:
                return head
            if time.monotonic() > deadline:
                raise AssertionError(f"the projection reflects {reflected}, the event store is at {head}")
            time.sleep(0.2)
    finally:
        log.close()


# ---------------------------------------------------------------------- Kafka: relay and projector
class SimulatedCrash(BaseException):
    """Raised at the runner's test seam: nothing after it runs, as after SIGKILL (no Kafka commit, no flush)."""


@dataclass
class KafkaHarness:
    """A topic namespace with its own topics (the two event topics and the dead-letter topic)."""

    bootstrap: str
    namespace: str
    partitions: int = 3

    @property
    def topics(self) -> list[str]:
        return [self.namespace + topic for topic in (*ev.ALL_TOPICS, DEAD_LETTER_TOPIC)]

    def create(self) -> None:
        create_topics(self.bootstrap, self.namespace, self.partitions)

    def delete(self) -> None:
        delete_topics(self.bootstrap, self.namespace)

    @contextlib.contextmanager
    def relay(self, dsn: str, checkpoint: str = "kafka-relay") -> Iterator[Relay]:
        """The relay publishing the event store at ``dsn`` into the namespace, in a thread."""
        store = PostgresEventStore(dsn, pool_size=2)
        try:
            with relay_running(store, dsn, self.bootstrap, self.namespace, checkpoint) as relay:
                yield relay
        finally:
            store.close()

    @contextlib.contextmanager
    def projector(
        self, projection: ElasticsearchProjection, dsn: str, config: RunnerConfig | None = None
    ) -> Iterator[ProjectionRunner]:
        """The projection runner on real Kafka, in a thread; the relay checkpoint read from ``dsn``."""
        config = config or RunnerConfig(topic_namespace=self.namespace, batch_size=200, backoff_max=0.5)
        if config.opener is unopened:  # as the projector process: sealed values opened with the store's keys
            config = dataclasses.replace(config, opener=opener_for(dsn))
        group = f"{self.namespace}eventledger-projection-{projection.name}"
        checkpoints = PostgresEventLogReader(dsn, pool_size=1)
        runner = ProjectionRunner(
            projection,
            KafkaEventLog(self.bootstrap, group, session_timeout_ms=6000),
            KafkaDeadLetterSink(self.bootstrap, self.namespace + DEAD_LETTER_TOPIC),
            lambda: checkpoints.checkpoint(RELAY_CHECKPOINT),
            config,
        )

        def run() -> None:
            with contextlib.suppress(SimulatedCrash):  # ends the thread as a killed process ends
                runner.run()

        thread = threading.Thread(target=run, name="projector", daemon=True)
        thread.start()
        try:
            yield runner
        finally:
            runner.stop()
            thread.join(60)
            checkpoints.close()
