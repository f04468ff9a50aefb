"""Issue 10 item 2: replay throughput of each read model with 1, 2 and 3 projector processes in one consumer group.

Each run starts N real projector processes (``python -m eventledger_projections run <name>``, each with its own ops
port) over empty topics of a fresh namespace and a fresh database, waits until the group has settled (every
partition assigned, to one member each), pauses them (``POST /pause``), publishes the whole log with the relay, and
then times from ``POST /resume`` until the read model reflects the log's head (its reflected position, read from the
store every 20 ms; each process refreshes it every 0.2 s). So the start of the processes and the group's join are left
out, and the rate is what the group replays per second once it has its partitions. Runs alternate 1, 2 and 3
processes within each round; medians and the ratios against one process are printed per read model.

Run with the servers up: ``make servers && .venv/bin/python -m bench.bench_projection_scale``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from elasticsearch import Elasticsearch
from tests.support.elasticsearch_rig import drop_read_model
from tests.support.kafka_groups import delete_groups_with_prefix
from tests.support.ledger import append_in_chunks
from tests.support.processes import wait_for
from tests.support.projector_group import ProjectorGroup, assignment
from tests.support.redis_rig import delete_base

from bench._common import Ratio, compare, scratch_database
from bench.bench_projection_postgres import build_script
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import ALL_TOPICS
from eventledger_infra.settings import Settings
from eventledger_projections.elasticsearch import IndexNames
from eventledger_projections.redis.connection import connect
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.settings import Namespace

EVENTS = 60_000
PARTITIONS = 6
"""Per topic, as deployed (EVENTLEDGER_KAFKA_PARTITIONS): 12 partitions in all, so 3 processes get 4 each."""
ROUNDS = 3
PROCESSES = (1, 2, 3)
READ_MODELS = ("postgres", "redis", "elasticsearch")
REPLAY_TIMEOUT_SECONDS = 300.0


def contender(processes: int) -> str:
    return f"{processes} process" + ("es" if processes > 1 else "")


@dataclasses.dataclass(frozen=True)
class Source:
    """The log, in an event store of its own (a scratch database), published afresh for every run."""

    settings: Settings
    store: PostgresEventStore
    head: int


def replay_rate(source: Source, name: str, processes: int) -> float:
    namespace = Namespace(f"scale-{uuid.uuid4().hex[:8]}")
    bootstrap = source.settings.kafka_bootstrap
    with (
        scratch_database(source.settings) as database,
        tempfile.TemporaryDirectory() as logs,
        _cleaned(source.settings, name, namespace),
    ):
        run = dataclasses.replace(source.settings, pg_database=database)
        PostgresEventStore(run.postgres_dsn, pool_size=1).close()  # the migrations: the relay's checkpoint table
        topics = [namespace.topic(t) for t in (*ALL_TOPICS, DEAD_LETTER_TOPIC)]
        ensure_topics(bootstrap, topics, PARTITIONS)
        group = ProjectorGroup(name, database, namespace.topic_prefix, Path(logs))
        with group.running():
            group.add(processes)
            wait_for(lambda: _settled(group), 60, f"the group of {processes} to settle")
            group.post("pause")
            time.sleep(0.5)  # a pause takes effect between two polls of 0.1 s
            _publish(source, run, namespace.topic_prefix)
            began = time.perf_counter()
            group.post("resume")
            deadline = began + REPLAY_TIMEOUT_SECONDS
            while group.reflected() < source.head:
                if not group.alive() or time.perf_counter() > deadline:
                    tails = "\n".join(member.log_tail(5) for member in group.members)
                    raise RuntimeError(f"{name}: the group of {processes} did not reflect the log:\n{tails}")
                time.sleep(0.02)
            rate = source.head / (time.perf_counter() - began)
            group.stop()
        return rate


def _settled(group: ProjectorGroup) -> bool:
    """Every member has partitions, and each of the 2 x PARTITIONS partitions is assigned to exactly one of them."""
    owned = [assignment(member) for member in group.members]
    return all(owned) and sum(map(len, owned)) == len(set().union(*owned)) == 2 * PARTITIONS


def _publish(source: Source, run: Settings, namespace: str) -> None:
    """The relay, publishing the source log into the namespace; its checkpoint is the run database's (the
    projectors read it there), saved after each acknowledged batch as always."""
    checkpoints = PostgresEventLogReader(run.postgres_dsn)
    publisher = KafkaEventPublisher(run.kafka_bootstrap)
    relay = Relay(source.store, publisher, checkpoints, RelayConfig(topic_namespace=namespace))
    try:
        while relay.position < source.head:
            relay.run_once()
    finally:
        publisher.close()
        checkpoints.close()


@contextlib.contextmanager
def _cleaned(settings: Settings, name: str, namespace: Namespace) -> Iterator[None]:
    """Afterwards: the namespace's topics and consumer group, and what the read model wrote outside the database."""
    try:
        yield
    finally:
        from confluent_kafka.admin import AdminClient

        delete_groups_with_prefix(settings.kafka_bootstrap, namespace.topic_prefix)
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        for future in admin.delete_topics([namespace.topic(t) for t in (*ALL_TOPICS, DEAD_LETTER_TOPIC)]).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)
        if name == "redis":
            client = connect(settings.redis_url)
            delete_base(client, namespace.redis_base)
            client.close()
        elif name == "elasticsearch":
            es = Elasticsearch(settings.elasticsearch_url, request_timeout=30)
            drop_read_model(es, IndexNames(namespace.index_prefix))
            es.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--processes", type=int, nargs="+", default=list(PROCESSES), help="group sizes to compare")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--read-models", nargs="+", choices=READ_MODELS, default=list(READ_MODELS))
    args = parser.parse_args()
    base = Settings.from_env()
    with scratch_database(base) as database:
        settings = dataclasses.replace(base, pg_database=database)
        store = PostgresEventStore(settings.postgres_dsn, pool_size=2)
        try:
            print(f"building a log of about {EVENTS:,} events ...", flush=True)
            append_in_chunks(store, build_script(EVENTS).envelopes)
            source = Source(settings, store, store.head_position())
            print(f"{source.head:,} events, {PARTITIONS} partitions per topic; {args.rounds} alternated rounds")
            sizes = args.processes
            for name in args.read_models:
                ratios: list[Ratio] = [(contender(n), contender(sizes[0]), None) for n in sizes[1:]]
                compare(
                    f"{name} read model, replay by a group of projector processes (events per second)",
                    args.rounds,
                    {contender(n): functools.partial(replay_rate, source, name, n) for n in sizes},
                    ratios,
                )
        finally:
            store.close()


if __name__ == "__main__":
    main()
