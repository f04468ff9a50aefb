"""Real-server plumbing for the Redis read model's tests: a projector over Kafka in a thread, a key base of its own
per test (deleted afterwards, never the whole database), and a checker that folds the event store into the figures
the read model must hold. The checker is written independently of the projection: balances are summed from the
amounts (and checked against ``balance_after``), not copied from the events."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

import eventledger_events as ev
from eventledger_command.eventstore.envelopes import to_envelope
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import RecordedEvent
from eventledger_infra.settings import Settings
from eventledger_projections.redis import AccountView, RedisProjection, RedisReadModel
from eventledger_projections.redis.connection import connect
from eventledger_projections.redis.keys import KeySpace
from eventledger_projections.runtime.kafka import KafkaDeadLetterSink, KafkaEventLog
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_projections.runtime.runner import ProjectionRunner, RunnerConfig
from eventledger_runtime.eventlog import RELAY_CHECKPOINT, PostgresEventLogReader
from eventledger_runtime.personal.opener import Opener, opener_for, unopened
from tests.support.processes import wait_for
from tests.support.projection_rig import ScratchLedger, namespace_of


def new_base(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def scratch_base(redis_url: str, prefix: str = "t") -> Iterator[tuple[redis.Redis, str]]:
    """A client and a key base of the caller's own; the base's keys are deleted afterwards, and the client closed."""
    client, base = connect(redis_url), new_base(prefix)
    try:
        yield client, base
    finally:
        delete_base(client, base)
        client.close()


def delete_base(client: redis.Redis, base: str) -> int:
    """UNLINK every key under ``base`` (and only those)."""
    deleted = 0
    for chunk in _chunks(client.scan_iter(match=f"{base}:*", count=1000), 500):
        deleted += int(client.unlink(*chunk))
    return deleted


def keys_under(client: redis.Redis, pattern: str) -> list[str]:
    return sorted(str(key) for key in client.scan_iter(match=pattern, count=1000))


def snapshot(client: redis.Redis, base: str) -> dict[str, Any]:
    """Every key under ``base`` with its whole value (hash, string or sorted set), for before/after comparisons."""
    dump: dict[str, Any] = {}
    for key in keys_under(client, f"{base}:*"):
        kind = client.type(key)
        if kind == "hash":
            dump[key] = client.hgetall(key)
        elif kind == "string":
            dump[key] = client.get(key)
        elif kind == "zset":
            dump[key] = client.zrange(key, 0, -1, withscores=True)
        else:
            raise AssertionError(f"unexpected {kind!r} at {key}")
    return dump


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------------- the projector


@dataclass
class RedisProjector:
    """The Redis projection driven by the real runner over Kafka, in a thread."""

    projection: RedisProjection
    runner: ProjectionRunner
    thread: threading.Thread
    closers: list[Any] = field(default_factory=list)

    @classmethod
    @contextlib.contextmanager
    def running(
        cls, settings: Settings, namespace: str, base: str, *, redis_url: str | None = None, batch_size: int = 100
    ) -> Iterator[RedisProjector]:
        projection = RedisProjection(connect(redis_url or settings.redis_url, timeout=2.0), base=base)
        checkpoints = PostgresEventLogReader(settings.postgres_dsn, pool_size=1)
        event_log = KafkaEventLog(
            settings.kafka_bootstrap, f"{namespace}eventledger-projection-redis", session_timeout_ms=6000
        )
        dead_letters = KafkaDeadLetterSink(settings.kafka_bootstrap, namespace + DEAD_LETTER_TOPIC)
        config = RunnerConfig(
            topic_namespace=namespace,
            batch_size=batch_size,
            backoff_initial=0.01,
            backoff_max=0.5,
            progress_interval=0.1,
            opener=opener_for(settings.postgres_dsn),
        )
        runner = ProjectionRunner(
            projection, event_log, dead_letters, lambda: checkpoints.checkpoint(RELAY_CHECKPOINT), config
        )
        thread = threading.Thread(target=runner.run, name="redis-projector", daemon=True)
        thread.start()
        projector = cls(projection, runner, thread, [projection.close, checkpoints.close, dead_letters.close])
        try:
            yield projector
        finally:
            runner.stop()
            thread.join(30)
            for close in projector.closers:
                with contextlib.suppress(Exception):
                    close()

    def wait_until_reflected(self, position: int, timeout: float = 60.0) -> None:
        def reached() -> bool:
            try:
                return self.projection.reflected_position() >= position
            except redis.RedisError:
                return False

        wait_for(reached, timeout, f"the Redis read model to reflect position {position}")


@dataclass
class RedisRig(ScratchLedger):
    """A scratch ledger with the Redis projector running over its topics, into a key base of its own."""

    base: str
    client: redis.Redis
    projector: RedisProjector

    @property
    def keys(self) -> KeySpace:
        return KeySpace(self.base)

    def wait_until_reflected(self, timeout: float = 60.0) -> None:
        self.projector.wait_until_reflected(self.store.head_position(), timeout)

    @classmethod
    @contextlib.contextmanager
    def running(cls, prefix: str) -> Iterator[RedisRig]:
        """Everything made for the test, deleted afterwards (the key base: only its keys)."""
        with ScratchLedger.created(prefix) as ledger:
            base = namespace_of(ledger.namespace).redis_base  # what a process of that namespace derives
            client = connect(ledger.settings.redis_url)
            try:
                with RedisProjector.running(ledger.settings, ledger.namespace, base) as projector:
                    yield cls(ledger.database, ledger.settings, ledger.namespace, ledger.store, base, client, projector)
            finally:
                delete_base(client, base)
                client.close()


# ---------------------------------------------------------------------- the checker


@dataclass
class ExpectedRedis:
    accounts: dict[str, AccountView]
    by_status: dict[str, int]
    volume: dict[str, int]
    posted: dict[str, int]
    top: dict[str, dict[str, int]]


_STATUSES = {ev.AccountFrozen: "frozen", ev.AccountUnfrozen: "open", ev.AccountClosed: "closed"}


def expected_redis(events: list[RecordedEvent], opener: Opener = unopened) -> ExpectedRedis:
    """Replay the event store, one event at a time, into what the Redis read model must hold (personal fields
    opened by ``opener``, as the projector opens them)."""
    accounts: dict[str, dict[str, Any]] = {}
    volume: dict[str, int] = {}
    posted: dict[str, int] = {}
    top: dict[str, dict[str, int]] = {}
    for event in events:
        envelope = opener(to_envelope(event))
        payload = envelope.payload
        if isinstance(payload, ev.TransferPosted | ev.TransferPendingPosted):
            volume[payload.currency] = volume.get(payload.currency, 0) + payload.amount
            posted[payload.currency] = posted.get(payload.currency, 0) + 1
            continue
        if not envelope.stream_id.startswith("account-"):
            continue
        account_id = envelope.stream_id.removeprefix("account-")
        if isinstance(payload, ev.AccountOpened):
            accounts[account_id] = {
                "holder_name": payload.holder_name,
                "currency": payload.currency,
                "status": "open",
                "balance": 0,
                "held": 0,
                "overdraft_limit": payload.overdraft_limit,
                "volume": 0,
                "opened_at": _at(envelope),
            }
        account = accounts[account_id]
        if type(payload) in _STATUSES:
            account["status"] = _STATUSES[type(payload)]
        elif isinstance(payload, ev.AccountCredited | ev.AccountDebited):
            signed = payload.amount if isinstance(payload, ev.AccountCredited) else -payload.amount
            account["balance"] += signed
            account["volume"] += payload.amount
            assert account["balance"] == payload.balance_after, f"event {event.position} disagrees with history"
            ranked = top.setdefault(payload.currency, {})
            ranked[account_id] = ranked.get(account_id, 0) + payload.amount
        elif isinstance(payload, ev.AccountHoldPlaced):
            account["held"] += payload.amount
        elif isinstance(payload, ev.AccountHoldReleased):
            account["held"] -= payload.amount
        account.update(version=envelope.stream_version, position=envelope.position, updated_at=_at(envelope))
    by_status: dict[str, int] = {}
    for account in accounts.values():
        by_status[account["status"]] = by_status.get(account["status"], 0) + 1
    return ExpectedRedis(
        accounts={
            account_id: AccountView(
                account_id=account_id,
                available=a["balance"] + a["overdraft_limit"] - a["held"],
                **a,
            )
            for account_id, a in accounts.items()
        },
        by_status=by_status,
        volume=volume,
        posted=posted,
        top=top,
    )


def _at(envelope: ev.EventEnvelope) -> str:
    assert envelope.recorded_at is not None
    return envelope.recorded_at.isoformat()


def actual_redis(client: redis.Redis, base: str) -> ExpectedRedis:
    model = RedisReadModel(client, base=base)
    overview = model.overview(top=1_000_000)
    return ExpectedRedis(
        accounts=model.all_accounts(),
        by_status=overview.accounts_by_status,
        volume=overview.volume,
        posted=overview.posted_transfers,
        top={currency: dict(rows) for currency, rows in overview.top_accounts.items()},
    )


def assert_redis_matches(store: PostgresEventStore, client: redis.Redis, base: str) -> ExpectedRedis:
    expected = expected_redis(store.read_all(limit=10_000_000, wait=0), opener_for(store.dsn))
    actual = actual_redis(client, base)
    wrong = [
        (account_id, expected.accounts.get(account_id), actual.accounts.get(account_id))
        for account_id in expected.accounts.keys() | actual.accounts.keys()
        if expected.accounts.get(account_id) != actual.accounts.get(account_id)
    ]
    assert not wrong, f"{len(wrong)} accounts differ, first: expected {wrong[0][1]}, got {wrong[0][2]}"
    assert actual.by_status == expected.by_status
    assert actual.volume == expected.volume
    assert actual.posted == expected.posted
    assert actual.top == expected.top
    return expected
