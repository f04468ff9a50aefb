"""PRODUCT.md §6 item 6: command accepted → visible in each read model (p50, p99, p99.9), against the floors measured
in the same run: a Kafka produce → consume round trip plus one write of the same row (for Elasticsearch with a
refresh); the commit is timed too. The steps on the way (the relay's checkpoint, each projector's apply) are timed
as well, to show where the time goes.

The whole data path runs in one process on the real servers (tests/support/pipeline.py): command service over
HTTP → event store → relay → Kafka → projectors → read models. "Visible" means the read model's reflected position
(what X-Read-Position reports) reached the command's position.

Run with the servers up: ``make servers && .venv/bin/python -m bench.bench_visibility``.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable

import httpx
import psycopg
import redis
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch
from tests.support.kafka_groups import delete_groups, reader
from tests.support.pipeline import Pipeline, pipeline

from eventledger_infra.settings import Settings
from eventledger_projections.elasticsearch.names import IndexNames
from eventledger_projections.elasticsearch.search import read_position
from eventledger_projections.redis.views import RedisReadModel
from eventledger_projections.runtime.runner import ProjectionRunner
from eventledger_runtime.eventlog import RELAY_CHECKPOINT, PostgresEventLogReader
from eventledger_runtime.eventlog.checkpoint_notice import PostgresCheckpointListener
from eventledger_runtime.schema_registry import read_wire_format_with

COMMANDS = int(os.environ.get("BENCH_VISIBILITY_COMMANDS", "1000"))
"""Enough for a p99.9 (the tenth slowest is about the 99.9th percentile)."""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _applied(runner: ProjectionRunner) -> Callable[[], int]:
    return lambda: runner.applied_position


def _claimed(runner: ProjectionRunner) -> Callable[[], int]:
    """The position the runner's last claim answered (ADR 0040): claimed, before a reader asks for it."""
    return lambda: runner.reflected


def visibility(run: Pipeline) -> dict[str, list[float]]:
    """Milliseconds from sending a command to each read model reflecting its position, and to the steps on the way
    (where the time goes): the relay's announcement and saved checkpoint covering it, each projector having applied
    it, and each projector's last claim covering it (ADR 0040)."""
    es = Elasticsearch(run.settings.elasticsearch_url)
    names = IndexNames(run.es_prefix)
    redis_model = RedisReadModel(
        redis.Redis.from_url(run.settings.redis_url, decode_responses=True), base=run.redis_base
    )
    positions: dict[str, Callable[[], int]] = {}
    with psycopg.connect(run.settings.postgres_dsn, autocommit=True) as conn:
        positions["postgres"] = lambda: int(conn.execute("SELECT read_model.reflected_position()").fetchone()[0])  # type: ignore[index]
        positions["redis"] = redis_model.reflected_position
        positions["elasticsearch"] = lambda: read_position(es, progress_index=names.progress)
        checkpoints = PostgresEventLogReader(run.settings.postgres_dsn, name="bench-visibility")
        announcements = PostgresCheckpointListener(run.settings.postgres_dsn, RELAY_CHECKPOINT)
        steps: dict[str, Callable[[], int]] = {
            "step: relay announced": announcements.latest,
            "step: relay checkpoint": lambda: checkpoints.checkpoint(RELAY_CHECKPOINT),
        }
        for name, projector in run.projectors.items():
            steps[f"step: applied by {name}"] = _applied(projector.runner)
        for name, projector in run.projectors.items():
            steps[f"step: claimed by {name}"] = _claimed(projector.runner)
        positions = {**steps, **positions}
        latencies: dict[str, list[float]] = {name: [] for name in positions}
        latencies["command (API)"] = []
        with httpx.Client(base_url=run.command_url, timeout=30) as client:
            account = client.post("/v1/accounts", json={"holder_name": "Latency", "currency": "EUR"}).json()
            for _ in range(COMMANDS):
                began = time.perf_counter()
                answer = client.post("/v1/deposits", json={"account_id": account["account_id"], "amount": 1})
                latencies["command (API)"].append((time.perf_counter() - began) * 1000)
                target = answer.json()["position"]
                pending = set(positions)
                deadline = time.monotonic() + 30
                while pending:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{', '.join(pending)} never reflected position {target}")
                    for name in list(pending):
                        if positions[name]() >= target:
                            latencies[name].append((time.perf_counter() - began) * 1000)
                            pending.discard(name)
                    time.sleep(0.001)
                time.sleep(0.05)
    announcements.close()
    checkpoints.close()
    es.close()
    return latencies


def floors(run: Pipeline) -> dict[str, list[float]]:
    """The raw costs the path is made of, each timed alone."""
    settings = run.settings
    measured: dict[str, list[float]] = {
        "commit": [],
        "kafka round trip": [],
        "postgres write": [],
        "redis write": [],
        "elasticsearch write+refresh": [],
    }
    topic = f"{run.namespace}floor"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    producer = Producer(
        {"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 0}
    )
    group = f"floor-{uuid.uuid4()}"
    consumer = reader(settings.kafka_bootstrap, [topic], group)
    while not consumer.assignment():
        consumer.poll(0.1)
    es = Elasticsearch(settings.elasticsearch_url)
    index = f"{run.es_prefix}floor"
    cache = redis.Redis.from_url(settings.redis_url)
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE floor (id int PRIMARY KEY, balance bigint)")
        for i in range(COMMANDS):
            began = time.perf_counter()
            conn.execute("INSERT INTO floor VALUES (%s, 1)", [i])
            measured["commit"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            conn.execute("INSERT INTO floor VALUES (%s, 2) ON CONFLICT (id) DO UPDATE SET balance = 2", [i])
            measured["postgres write"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            producer.produce(topic, value=b"x")
            producer.flush(10)
            while consumer.poll(5) is None:
                pass
            measured["kafka round trip"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            cache.hset(f"{run.redis_base}:floor", mapping={"balance": i})
            measured["redis write"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            es.index(index=index, id=str(i), document={"amount": i})
            es.indices.refresh(index=index)
            measured["elasticsearch write+refresh"].append((time.perf_counter() - began) * 1000)
    consumer.close()
    delete_groups(settings.kafka_bootstrap, [group])
    admin.delete_topics([topic])
    es.indices.delete(index=index, ignore_unavailable=True)
    es.close()
    cache.delete(f"{run.redis_base}:floor")
    return measured


def main() -> None:
    # The relay writes the Confluent wire format (ADR 0028): the projectors of this process read it with the registry.
    read_wire_format_with(Settings.from_env().registry_url)
    with pipeline() as run:
        time.sleep(3)  # let every consumer join its group
        seen = visibility(run)
        raw = floors(run)
    print(f"\ncommand → visible, {COMMANDS} deposits one after another (ms)")
    for name, values in {**raw, **seen}.items():
        print(
            f"  {name:<30} p50 {statistics.median(values):8.1f}   p99 {percentile(values, 0.99):8.1f}"
            f"   p99.9 {percentile(values, 0.999):8.1f}"
        )
    round_trip = statistics.median(raw["kafka round trip"])
    commit = statistics.median(raw["commit"])
    for model, store in (
        ("postgres", "postgres write"),
        ("redis", "redis write"),
        ("elasticsearch", "elasticsearch write+refresh"),
    ):
        floor = round_trip + statistics.median(raw[store])
        ratio = percentile(seen[model], 0.99) / floor
        print(
            f"  {model:<14} p99 / floor (round trip + write, {floor:.1f} ms) = {ratio:.1f} "
            f"({'meets' if ratio <= 5 else 'MISSES'} target ≤ 5); / sum of floors with the commit "
            f"({floor + commit:.1f} ms) = {percentile(seen[model], 0.99) / (floor + commit):.1f}"
        )
    api = seen["command (API)"]
    print(
        f"  API p50 {statistics.median(api):.1f} ms (target < 100), p99 {percentile(api, 0.99):.1f} ms (target < 1000)"
    )


if __name__ == "__main__":
    main()
