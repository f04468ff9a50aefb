"""PRODUCT.md §6 item 4 for the Redis read model: replaying from zero, against the raw bulk rate of Redis writing
the same keys and values (pipelined HSET/SET/HINCRBY/ZINCRBY per batch, computed beforehand: no decoding, no reads,
no guards). Three ways of replaying from zero:

- the rebuild from the event store (the read model's own replay: pages of rows mapped to operations, one
  version-guarded script call per batch, the next page read meanwhile);
- the projection's share of a replay from Kafka: ``apply`` on events the runner already decoded, batch by batch;
- the whole runner path from Kafka (consumer, the runtime's reading of every message, apply, offsets): events of
  the current schema version mapped from their Avro records (ADR 0037), and, for comparison in the same run, the
  path before that (every event decoded into a validated envelope; see docs/adr/0010).

Run with the servers up: ``make up && .venv/bin/python -m bench.bench_projection_redis``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.support.redis_rig import delete_base, scratch_base

from bench._common import compare
from bench._replay import PublishedLog, otlp_receiver, published_log, replay_rate, traced
from bench.bench_projection_postgres import build_log
from eventledger_events import EventEnvelope
from eventledger_infra.settings import Settings
from eventledger_projections.redis import RedisProjection, RedisRebuild, RedisRebuildConfig
from eventledger_projections.redis.connection import connect
from eventledger_projections.redis.keys import KeySpace
from eventledger_projections.redis.operations import operation
from eventledger_projections.runtime.port import ConsumedEvent, LogMessage

BATCH = 500
ROUNDS = 5
RAW = "raw pipelined writes (same keys)"
REBUILD = "rebuild from the event store"
APPLY = "projection apply (decoded events)"
REPLAY = "projection replay from Kafka"
REPLAY_ENVELOPES = "replay, validated envelopes (before)"
REPLAY_TRACED = "replay, apply spans exported"

Command = tuple[str, tuple[Any, ...], dict[str, Any]]
"""A pipeline method, its arguments and keyword arguments."""


# ---------------------------------------------------------------------- contenders
class DecodingEnvelopes(RedisProjection):
    """The projection as it was before ADR 0037: every event decoded into a validated envelope."""

    reads_records = False


def projection_rate(
    log: PublishedLog, kind: type[RedisProjection] = RedisProjection, receiver: str | None = None
) -> float:
    """Replay from zero through the projector (the shared timing of bench._replay.replay_rate); with ``receiver``,
    with the runner's ``apply`` spans exported there (ADR 0032)."""
    with scratch_base(log.settings.redis_url, "bench") as (client, base):
        if receiver is None:
            return replay_rate(kind(client, base=base), log, BATCH)
        with traced(receiver):
            return replay_rate(kind(client, base=base), log, BATCH)


def apply_rate(settings: Settings, events: list[ConsumedEvent]) -> float:
    """``apply`` of already decoded events, in the runner's batches, with their offsets: the projection's share."""
    with scratch_base(settings.redis_url, "bench") as (client, base):
        projection = RedisProjection(client, base=base)
        projection.load_offsets()
        began = time.perf_counter()
        for start in range(0, len(events), BATCH):
            projection.apply(events[start : start + BATCH])
        return len(events) / (time.perf_counter() - began)


def rebuild_rate(settings: Settings, events: int) -> float:
    with scratch_base(settings.redis_url, "bench") as (client, base):
        began = time.perf_counter()
        RedisRebuild(client, settings.postgres_dsn, base=base, config=RedisRebuildConfig(batch_size=BATCH)).run()
        return events / (time.perf_counter() - began)


def raw_rate(settings: Settings, base: str, batches: list[list[Command]], events: int) -> float:
    """The same keys and values, pipelined one batch at a time (one round trip per batch): nothing else."""
    client = connect(settings.redis_url)
    try:
        began = time.perf_counter()
        for commands in batches:
            pipe = client.pipeline(transaction=False)
            for name, args, kwargs in commands:
                getattr(pipe, name)(*args, **kwargs)
            pipe.execute()
        return events / (time.perf_counter() - began)
    finally:
        delete_base(client, base)
        client.close()


# ---------------------------------------------------------------------- the raw writes
def writes_per_batch(envelopes: list[EventEnvelope], base: str) -> list[list[Command]]:
    """What the apply script writes for each batch of ``BATCH`` events, as plain commands (folded beforehand):
    each changed account's hash once, each transfer's version, the counters, the sorted sets, and the progress."""
    keys = KeySpace(base)
    accounts: dict[str, dict[str, Any]] = {}
    batches: list[list[Command]] = []
    for start in range(0, len(envelopes), BATCH):
        changed: dict[str, dict[str, Any]] = {}
        commands: list[Command] = []
        volume: dict[str, int] = {}
        for envelope in envelopes[start : start + BATCH]:
            kind, entity, version, position, at, a, b, c = operation(envelope)
            if kind == "T":
                commands.append(("set", (keys.transfer(1, entity), version), {}))
                if a == "posted":
                    volume[c] = volume.get(c, 0) + int(b)
                continue
            row = accounts.setdefault(entity, {"balance": 0, "held": 0, "volume": 0, "overdraft_limit": 0})
            if kind == "O":
                row.update(status="open", currency=a, holder_name=b, overdraft_limit=int(c), opened_at=at)
                commands.append(("hincrby", (keys.account_counts(1), "open", 1), {}))
            elif kind == "M":
                row.update(balance=int(a), volume=row["volume"] + int(b))
                commands.append(("zincrby", (keys.top(1, c), int(b), entity), {}))
            row.update(version=version, position=position, updated_at=at)
            row["available"] = row["balance"] + row["overdraft_limit"] - row["held"]
            changed[entity] = row
        for entity, row in changed.items():
            commands.append(("hset", (keys.account(1, entity),), {"mapping": {k: str(v) for k, v in row.items()}}))
        for currency, amount in volume.items():
            commands.append(("hincrby", (keys.volume(1), currency, amount), {}))
            commands.append(("hincrby", (keys.posted(1), currency, 1), {}))
        progress = ("t|0", str(start + BATCH))
        commands += [
            ("hset", (keys.offsets(1), *progress), {}),
            ("hset", (keys.last_positions(1), *progress), {}),
            ("hset", (keys.marks(1), *progress), {}),
            ("hset", (keys.meta(1), "reflected_position", progress[1]), {}),
        ]
        batches.append(commands)
    return batches


def main() -> None:
    with otlp_receiver() as receiver, published_log(Settings.from_env(), build_log, "a log") as log:
        settings, envelopes, total = log.settings, log.envelopes, len(log.envelopes)
        decoded = [ConsumedEvent(e, LogMessage("t", 0, offset, None, None)) for offset, e in enumerate(envelopes)]
        raw_base = f"bench-raw-{uuid.uuid4().hex[:8]}"
        batches = writes_per_batch(envelopes, raw_base)
        commands = sum(len(batch) for batch in batches)
        print(f"{total:,} events, {commands:,} raw commands in batches of {BATCH}; {ROUNDS} alternated rounds")
        compare(
            "Redis read model, replaying from zero (events per second)",
            ROUNDS,
            {
                RAW: lambda: raw_rate(settings, raw_base, batches, total),
                REBUILD: lambda: rebuild_rate(settings, total),
                APPLY: lambda: apply_rate(settings, decoded),
                REPLAY: lambda: projection_rate(log),
                REPLAY_ENVELOPES: lambda: projection_rate(log, DecodingEnvelopes),
                REPLAY_TRACED: lambda: projection_rate(log, receiver=receiver),
            },
            [
                (REBUILD, RAW, 0.5),
                (APPLY, RAW, 0.5),
                (REPLAY, RAW, 0.5),
                (REPLAY_ENVELOPES, RAW, 0.5),
                (REPLAY, REPLAY_ENVELOPES, None),
                (REPLAY_TRACED, REPLAY, None),
            ],
        )


if __name__ == "__main__":
    main()
