"""PRODUCT.md §6 item 4 for the Elasticsearch read model: replaying the log from zero through the projection,
against the raw bulk rate of Elasticsearch indexing the same documents with ``helpers.bulk`` (no versions, no reads,
no bookkeeping), in alternated rounds. Two replays from zero are measured:

- **rebuild**: the event store read in position order (only the events this model needs), folded, holder names,
  versioned bulk writes with every item checked, then the alias switch: how this read model is rebuilt (§5);
- **runner**: a new consumer group reading both Kafka topics from offset zero through the projection runtime
  (decoding every message, retries, offsets) and the projection (progress documents, position claims, completing
  the holder names of transfers read before their accounts' openings).

All rates are events of the log per second, so each ratio compares the time to index this log either way; every
run starts on empty indices and ends with the documents searchable (refreshed).

Run with the servers up: ``make up && .venv/bin/python -m bench.bench_projection_elasticsearch``.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import time
import uuid
from typing import Any, ClassVar

from elasticsearch import Elasticsearch, helpers
from tests.support.ledger import LedgerScript, append_in_chunks

from bench._common import alternate, report
from bench._replay import PublishedLog, published_log, replay_rate
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_events import AccountOpened, EventEnvelope, parse_stream_id
from eventledger_infra.settings import Settings
from eventledger_projections.elasticsearch import ElasticsearchProjection, IndexNames
from eventledger_projections.elasticsearch.client import elasticsearch_client
from eventledger_projections.elasticsearch.documents import HolderNames, TransferState, fold, to_document
from eventledger_projections.elasticsearch.holders import EXTERNAL_HOLDER_NAME
from eventledger_projections.elasticsearch.indices import create_version, ensure_read_model
from eventledger_projections.elasticsearch.rebuild import ElasticsearchRebuild
from eventledger_projections.elasticsearch.wiring import relevant_events_source

RAW = "raw helpers.bulk (same documents)"
REBUILD = "rebuild from the event store"
RUNNER = "runner from Kafka offset zero"
RUNNER_ALL = "runner, every event decoded"


class DecodingEverything(ElasticsearchProjection):
    """The projection as it was before ADR 0022: the runner decodes every event, used or not."""

    event_types: ClassVar[frozenset[str] | None] = None


EVENTS = 100_000
ACCOUNTS = 500
BATCH = 500
ROUNDS = 5


def build_script() -> LedgerScript:
    """A realistic log: openings, deposits, transfers, holds later posted or voided (with their account legs)."""
    rng = random.Random(5)
    script = LedgerScript()
    accounts = [script.open(f"holder {i} {rng.choice(['Lovelace', 'Hopper', 'Turing'])}") for i in range(ACCOUNTS)]
    pending: list[uuid.UUID] = []
    while len(script.envelopes) < EVENTS:
        roll = rng.random()
        source, target = rng.sample(accounts, 2)
        text = f"{rng.choice(['rent', 'books', 'salary', 'coffee'])} #{rng.randrange(10_000)}"
        if roll < 0.3:
            script.deposit(target, rng.randint(100, 10_000), text)
        elif roll < 0.7:
            script.transfer(source, target, rng.randint(1, 100), text)
        elif roll < 0.85 or not pending:
            pending.append(script.hold(source, target, rng.randint(1, 100), text))
        else:
            settle = rng.choice([script.post, script.void])
            settle(pending.pop(rng.randrange(len(pending))))
    return script


def documents(envelopes: list[EventEnvelope], index: IndexNames) -> list[dict[str, Any]]:
    """The bulk actions the projection's writes amount to, batch by batch of the log (folded outside timing):
    each holder once, and each transfer once per batch in which it changed, in its state at the batch's end."""
    names: dict[uuid.UUID, str] = {}
    states: dict[uuid.UUID, TransferState] = {}
    actions: list[dict[str, Any]] = []
    for start in range(0, len(envelopes), BATCH):
        changed: dict[uuid.UUID, TransferState] = {}
        for envelope in envelopes[start : start + BATCH]:
            category, entity = parse_stream_id(envelope.stream_id)
            if isinstance(envelope.payload, AccountOpened):
                names[entity] = envelope.payload.holder_name
                document = {
                    "account_id": str(entity),
                    "holder_name": envelope.payload.holder_name,
                    "currency": envelope.payload.currency,
                    "position": envelope.position,
                }
                actions.append({"_index": index.holders_version(1), "_id": str(entity), "_source": document})
            elif category == "transfer":
                state = fold(states.get(entity), envelope)
                if state is not None:
                    states[entity] = changed[entity] = state
        for transfer_id, state in changed.items():
            sides = (
                names.get(state.from_account_id, EXTERNAL_HOLDER_NAME),
                names.get(state.to_account_id, EXTERNAL_HOLDER_NAME),
            )
            source = to_document(state, HolderNames(*sides))
            actions.append({"_index": index.transfers_version(1), "_id": str(transfer_id), "_source": source})
    return actions


@dataclasses.dataclass
class Bench:
    log: PublishedLog
    es: Elasticsearch
    actions: list[dict[str, Any]]
    made: list[IndexNames] = dataclasses.field(default_factory=list)

    @property
    def events(self) -> int:
        return len(self.log.envelopes)

    def fresh(self, tag: str) -> IndexNames:
        names = IndexNames(f"bench-{tag}-{uuid.uuid4().hex[:8]}-")
        self.made.append(names)
        return names

    def projection_rate(self, kind: type[ElasticsearchProjection] = ElasticsearchProjection) -> float:
        """Replay from zero through the runner and the projection (bench._replay.replay_rate), with the final
        refresh and position claim inside the timing."""
        projection = kind(self.es, self.fresh("proj"))
        rate = replay_rate(projection, self.log, BATCH, finish=lambda runner: runner.refresh_progress())
        assert projection.reflected_position() == self.log.head
        return rate

    def raw_rate(self) -> float:
        """The same documents through ``helpers.bulk`` in chunks of the same size, then a refresh."""
        names = self.fresh("raw")
        create_version(self.es, names, 1, replicas=0, building=False)
        actions = [{**action, "_index": _renamed(action["_index"], names)} for action in self.actions]
        began = time.perf_counter()
        written, errors = helpers.bulk(self.es, actions, chunk_size=BATCH, raise_on_error=True)
        self.es.indices.refresh(index=[names.transfers_version(1), names.holders_version(1)])
        elapsed = time.perf_counter() - began
        assert written == len(actions)
        assert not errors
        return self.events / elapsed

    def rebuild_rate(self) -> float:
        """A rebuild from the event store beside an (empty) live version, switch and clean-up included; the live
        version exists beforehand, as the raw contender's index does."""
        names = self.fresh("rebuild")
        ensure_read_model(self.es, names)
        dsn = self.log.settings.postgres_dsn
        source = relevant_events_source(dsn)
        try:
            began = time.perf_counter()
            ElasticsearchRebuild(self.es, source, source.log.safe_head, names, batch_size=2000).run()
            return self.events / (time.perf_counter() - began)
        finally:
            source.close()

    def drop(self) -> None:
        for names in self.made:
            found = self.es.indices.get(index=f"{names.prefix}*", allow_no_indices=True).body
            if found:
                self.es.indices.delete(index=list(found))


def _renamed(index: str, names: IndexNames) -> str:
    return names.holders_version(1) if "-holders-" in index else names.transfers_version(1)


def build_log(store: PostgresEventStore) -> None:
    append_in_chunks(store, build_script().envelopes)


def main() -> None:
    base = Settings.from_env()
    es = elasticsearch_client(base.elasticsearch_url, request_timeout=120)
    try:
        with published_log(base, build_log, f"a log of {EVENTS:,} events") as log:
            actions = documents(log.envelopes, IndexNames("bench-"))
            bench = Bench(log, es, actions)
            # The log and the raw documents stay in memory for the whole run; left to the collector they would be
            # traversed by every full collection the contenders trigger (a cost of this harness, not of the code
            # measured: a projector process holds no such data), so they are moved out of its reach.
            gc.freeze()
            print(f"{bench.events:,} events, {len(actions):,} documents in batches of {BATCH}; {ROUNDS} rounds")
            try:
                results = alternate(
                    ROUNDS,
                    {
                        RAW: bench.raw_rate,
                        REBUILD: bench.rebuild_rate,
                        RUNNER: bench.projection_rate,
                        RUNNER_ALL: lambda: bench.projection_rate(DecodingEverything),
                    },
                )
            finally:
                bench.drop()
    finally:
        es.close()
    report(
        "Elasticsearch projection replaying from zero vs raw bulk",
        results,
        [(REBUILD, RAW, 0.5), (RUNNER, RAW, 0.5), (RUNNER_ALL, RAW, 0.5), (RUNNER, RUNNER_ALL, None)],
    )


if __name__ == "__main__":
    main()
