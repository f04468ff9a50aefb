"""Real-server plumbing for projection tests: a random ledger workload through the command side, the relay in a
thread with its own topic namespace, and a checker that folds the event store into the rows the PostgreSQL read
model must hold (written independently of the projection: balances are summed, not taken from the events)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from eventledger_command.application import commands
from eventledger_command.bootstrap import build
from eventledger_command.domain import DomainError
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import RecordedEvent
from eventledger_command.relay.publisher import KafkaEventPublisher
from eventledger_command.relay.relay import Relay, RelayConfig
from eventledger_events import (
    ACCOUNTS_TOPIC,
    ALL_TOPICS,
    EventEnvelope,
    EventMetadata,
    account_stream_id,
    parse_stream_id,
    payload_from_json,
)
from eventledger_events.kafka_message import KafkaRecord, to_kafka_record
from eventledger_events.personal import open_event
from eventledger_infra.settings import Settings
from eventledger_projections.postgres import reflected_position
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.personal.opener import PersonalDataOpener, opener_for
from eventledger_runtime.settings import CommandSettings, Namespace
from tests.support.clock import Clock
from tests.support.http_service import local_get
from tests.support.kafka_groups import delete_groups_with_prefix
from tests.support.ledger import credit_to_a_stranger
from tests.support.processes import ManagedProcess, free_port, scratch_database, wait_for
from tests.support.projector_launcher import KILL_AFTER_BATCHES, REPOSITORY
from tests.support.schema_registry import registered_schema_ids

R = TypeVar("R")

Move = tuple[commands.Command, Callable[[], None]]
"""A command and what the workload notes down once it was accepted."""


@dataclass
class Workload:
    """Random commands through the real command bus: accounts in two currencies, deposits, withdrawals,
    transfers, pending transfers posted, voided or expired, freezes and closes. Refusals are part of the game."""

    store: PostgresEventStore
    seed: int = 7
    clock: Clock = field(default_factory=lambda: Clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC)))
    accounts: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    pending: list[uuid.UUID] = field(default_factory=list)
    accepted: int = 0
    refused: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    frozen: set[uuid.UUID] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._bus = build(CommandSettings(), store=self.store, clock=self.clock).bus
        self._metadata = EventMetadata(actor="workload", correlation_id=uuid.uuid4())

    def run(self, count: int) -> None:
        for _ in range(count):
            command, accepted = self._next()
            if self.execute(command):
                accepted()

    def execute(self, command: commands.Command) -> bool:
        try:
            self._bus.execute(command, self._metadata)
        except DomainError as refusal:
            self.refused += 1
            self.refusals[type(refusal).__name__] = self.refusals.get(type(refusal).__name__, 0) + 1
            return False
        self.accepted += 1
        return True

    def _next(self) -> Move:
        if len(self.accounts) < 4 or self._rng.random() < 0.08:
            return self._open()
        moves = [self._deposit, self._withdraw, self._transfer, self._settle, self._freeze, self._unfreeze, self._close]
        [move] = self._rng.choices(moves, weights=[30, 15, 30, 13, 5, 5, 2])
        return move()

    def _active(self) -> tuple[uuid.UUID, str]:
        """An account that is not frozen (when there is one)."""
        active = [(a, c) for a, c in self.accounts if a not in self.frozen] or self.accounts
        return self._rng.choice(active)

    def _open(self) -> Move:
        account_id, currency = uuid.uuid4(), self._rng.choice(["EUR", "EUR", "USD"])
        holder = self._rng.choice(["Ada Lovelace", "Grace Hopper", "Alan Turing", "Émilie du Châtelet"])
        command = commands.OpenAccount(account_id, holder, currency, overdraft_limit=self._rng.choice([0, 0, 500]))
        return command, lambda: self.accounts.append((account_id, currency))

    def _deposit(self) -> Move:
        amount = self._rng.randint(4, 3200)
        return commands.Deposit(uuid.uuid4(), self._active()[0], amount, description=f"deposit {amount}"), _nothing

    def _withdraw(self) -> Move:
        return commands.Withdraw(
            uuid.uuid4(), self._active()[0], self._rng.randint(1, 800), description="cash"
        ), _nothing

    def _transfer(self) -> Move:
        account_id, currency = self._active()
        peers = [a for a, c in self.accounts if c == currency and a != account_id and a not in self.frozen]
        if not peers:
            return self._deposit()
        pending = self._rng.random() < 0.4
        transfer_id = uuid.uuid4()
        command = commands.MakeTransfer(
            transfer_id,
            account_id,
            self._rng.choice(peers),
            self._rng.randint(1, 800),
            description=f"invoice {self._rng.randint(1, 999)}",
            pending=pending,
            timeout_seconds=60 if pending else None,
        )
        return command, (lambda: self.pending.append(transfer_id)) if pending else _nothing

    def _settle(self) -> Move:
        """Post, void or expire a pending transfer (expiry moves the clock past its timeout)."""
        if not self.pending:
            return self._deposit()
        transfer_id = self.pending.pop(self._rng.randrange(len(self.pending)))
        choice = self._rng.random()
        if choice < 0.5:
            return commands.PostTransfer(transfer_id), _nothing
        if choice < 0.8:
            return commands.VoidTransfer(transfer_id), _nothing
        self.clock.advance(61)
        return commands.ExpireTransfer(transfer_id), _nothing

    def _freeze(self) -> Move:
        account_id = self._active()[0]
        return commands.FreezeAccount(account_id), lambda: self.frozen.add(account_id)

    def _unfreeze(self) -> Move:
        if not self.frozen:
            return self._deposit()
        return commands.UnfreezeAccount(self.frozen.pop()), _nothing

    def _close(self) -> Move:
        account_id, currency = self._active()
        return commands.CloseAccount(account_id), lambda: self.accounts.remove((account_id, currency))


def _nothing() -> None:
    """No bookkeeping after an accepted command."""


# ---------------------------------------------------------------------- the checker


@dataclass
class Expected:
    accounts: dict[uuid.UUID, tuple[Any, ...]]
    entries: set[tuple[Any, ...]]
    transfers: dict[uuid.UUID, tuple[Any, ...]]


ACCOUNT_QUERY = (
    "SELECT account_id, holder_name, currency, status, balance, overdraft_limit, held, available, version, position,"
    " opened_at, updated_at FROM {}.accounts"
)
ENTRY_QUERY = (
    "SELECT account_id, position, transfer_id, amount, balance_after, description, posted_at, event_id"
    " FROM {}.account_entries"
)
TRANSFER_QUERY = (
    "SELECT transfer_id, kind, from_account_id, to_account_id, amount, currency, status, description, created_at,"
    " updated_at, expires_at, version, position FROM {}.transfers"
)


def expected_read_model(events: list[RecordedEvent], opener: PersonalDataOpener | None = None) -> Expected:
    """Replay the event store into the rows the read model must hold, one event at a time (personal fields opened
    by ``opener``, as the projector opens them)."""
    accounts: dict[uuid.UUID, dict[str, Any]] = {}
    entries: set[tuple[Any, ...]] = set()
    transfers: dict[uuid.UUID, dict[str, Any]] = {}
    statuses = {"account.frozen": "frozen", "account.unfrozen": "open", "account.closed": "closed"}
    endings = {"transfer.pending_posted": "posted", "transfer.voided": "voided", "transfer.expired": "expired"}
    for event in events:
        payload = payload_from_json(event.event_type, event.schema_version, event.payload)
        data = (open_event(payload, opener.lookup) if opener else payload).model_dump()
        kind = event.event_type
        if kind == "account.opened":
            accounts[data["account_id"]] = {
                "holder_name": data["holder_name"],
                "currency": data["currency"],
                "status": "open",
                "balance": 0,
                "overdraft_limit": data["overdraft_limit"],
                "held": 0,
                "opened_at": event.occurred_at,
            }
        elif kind.startswith("account."):
            account = accounts[data["account_id"]]
            if kind in statuses:
                account["status"] = statuses[kind]
            elif kind in {"account.credited", "account.debited"}:
                signed = data["amount"] if kind == "account.credited" else -data["amount"]
                account["balance"] += signed
                assert account["balance"] == data["balance_after"], f"event {event.position} disagrees with history"
                entries.add(
                    (
                        data["account_id"],
                        event.position,
                        data["transfer_id"],
                        signed,
                        data["balance_after"],
                        data["description"],
                        event.occurred_at,
                        event.event_id,
                    )
                )
            elif kind == "account.hold_placed":
                account["held"] += data["amount"]
            elif kind == "account.hold_released":
                account["held"] -= data["amount"]
        elif kind in {"transfer.posted", "transfer.pending_created"}:
            transfers[data["transfer_id"]] = {
                "kind": str(data["kind"]),
                "from": data["from_account_id"],
                "to": data["to_account_id"],
                "amount": data["amount"],
                "currency": data["currency"],
                "status": "posted" if kind == "transfer.posted" else "pending",
                "description": data["description"],
                "created_at": event.occurred_at,
                "expires_at": data.get("expires_at"),
            }
        else:
            transfers[data["transfer_id"]]["status"] = endings[kind]
        row = accounts[data["account_id"]] if kind.startswith("account.") else transfers[data["transfer_id"]]
        row.update(version=event.stream_version, position=event.position, updated_at=event.occurred_at)
    return Expected(
        accounts={
            account_id: (
                account_id,
                a["holder_name"],
                a["currency"],
                a["status"],
                a["balance"],
                a["overdraft_limit"],
                a["held"],
                a["balance"] + a["overdraft_limit"] - a["held"],
                a["version"],
                a["position"],
                a["opened_at"],
                a["updated_at"],
            )
            for account_id, a in accounts.items()
        },
        entries=entries,
        transfers={
            transfer_id: (
                transfer_id,
                t["kind"],
                t["from"],
                t["to"],
                t["amount"],
                t["currency"],
                t["status"],
                t["description"],
                t["created_at"],
                t["updated_at"],
                t["expires_at"],
                t["version"],
                t["position"],
            )
            for transfer_id, t in transfers.items()
        },
    )


def actual_read_model(dsn: str, schema: str = "read_model") -> Expected:
    """The rows as the query side sees them (through the views of the stable schema)."""
    with psycopg.connect(dsn) as conn:
        accounts = {row[0]: tuple(row) for row in conn.execute(ACCOUNT_QUERY.format(schema)).fetchall()}
        entries = {tuple(row) for row in conn.execute(ENTRY_QUERY.format(schema)).fetchall()}
        transfers = {row[0]: tuple(row) for row in conn.execute(TRANSFER_QUERY.format(schema)).fetchall()}
    return Expected(accounts, entries, transfers)


def assert_read_model_matches(store: PostgresEventStore, dsn: str, schema: str = "read_model") -> Expected:
    expected = expected_read_model(store.read_all(limit=10_000_000), opener_for(store.dsn))
    actual = actual_read_model(dsn, schema)
    assert actual.accounts == expected.accounts, _difference(expected.accounts, actual.accounts)
    assert actual.transfers == expected.transfers, _difference(expected.transfers, actual.transfers)
    assert actual.entries == expected.entries, (
        f"missing {len(expected.entries - actual.entries)}, extra {len(actual.entries - expected.entries)}"
    )
    return expected


def _difference(expected: dict[Any, Any], actual: dict[Any, Any]) -> str:
    wrong = [(key, expected.get(key), actual.get(key)) for key in expected.keys() | actual.keys()]
    wrong = [w for w in wrong if w[1] != w[2]]
    return f"{len(wrong)} rows differ, first: expected {wrong[0][1]}, got {wrong[0][2]}" if wrong else ""


# ---------------------------------------------------------------------- Kafka and the relay


def new_namespace(prefix: str = "proj") -> str:
    """A fresh topic prefix: the one of the namespace :func:`namespace_of` gives."""
    return Namespace(f"{prefix}-{uuid.uuid4().hex[:8]}").topic_prefix


def namespace_of(topic_prefix: str) -> Namespace:
    """The deployment namespace (EVENTLEDGER_NAMESPACE) whose topic prefix ``topic_prefix`` is."""
    namespace = Namespace(topic_prefix.removesuffix("."))
    assert namespace.topic_prefix == topic_prefix
    return namespace


def create_topics(bootstrap: str, namespace: str, partitions: int = 3) -> None:
    ensure_topics(bootstrap, [namespace + t for t in (*ALL_TOPICS, DEAD_LETTER_TOPIC)], partitions)


def delete_topics(bootstrap: str, namespace: str) -> None:
    """The namespace's topics and its consumer groups."""
    delete_groups_with_prefix(bootstrap, namespace)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics([namespace + t for t in (*ALL_TOPICS, DEAD_LETTER_TOPIC)]).values():
        with contextlib.suppress(Exception):
            future.result(timeout=30)


@contextlib.contextmanager
def relay_running(
    store: PostgresEventStore, dsn: str, bootstrap: str, namespace: str, checkpoint: str = "kafka-relay"
) -> Iterator[Relay]:
    """The write side's relay, in a thread, publishing into the namespaced topics."""
    checkpoints = PostgresEventLogReader(dsn)
    publisher = KafkaEventPublisher(bootstrap, client_id=f"relay-{namespace}")
    relay = Relay(
        store,
        publisher,
        checkpoints,
        RelayConfig(checkpoint_name=checkpoint, topic_namespace=namespace),
        schema_ids=registered_schema_ids(),
    )
    thread = threading.Thread(target=relay.run, name="relay", daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        relay.stop()
        thread.join(30)
        publisher.close()
        checkpoints.close()


@dataclass
class ScratchLedger:
    """A scratch database holding an event store, and a topic namespace of its own with its topics created: what
    every projection test on real servers starts from. :meth:`relay` publishes the store into the namespace."""

    database: str
    settings: Settings
    namespace: str
    store: PostgresEventStore

    @property
    def dsn(self) -> str:
        return self.settings.postgres_dsn

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    def relay(self, checkpoint: str = "kafka-relay") -> contextlib.AbstractContextManager[Relay]:
        return relay_running(self.store, self.dsn, self.bootstrap, self.namespace, checkpoint)

    def play(self, workload: Workload, count: int, wait_until_reflected: Callable[[], None]) -> None:
        """``count`` commands of ``workload`` published by the relay, then awaited with ``wait_until_reflected``."""
        with self.relay():
            workload.run(count)
            wait_until_reflected()

    def poison_midway(
        self, seed: int, wait_until_reflected: Callable[[], None], projection: str
    ) -> tuple[Poison, dict[str, Any], dict[str, Any]]:
        """60 commands of a workload seeded ``seed``, the two messages of :func:`produce_poison`, 60 more (the
        projection goes on), each half awaited with ``wait_until_reflected``. Answers the poison and the two messages
        ``projection`` parked in the dead-letter topic (garbage, then the unappliable event), checked by
        :func:`parked_poison`."""
        workload = Workload(self.store, seed=seed)
        with self.relay():
            workload.run(60)
            wait_until_reflected()
            poison = produce_poison(self.bootstrap, self.namespace, workload.accounts[0][0])
            workload.run(60)
            wait_until_reflected()
        parked = dead_letters(self.bootstrap, self.namespace, expected=2)
        return poison, *parked_poison(poison, parked, projection)

    def check_claims_while_moving(
        self,
        workload: Workload,
        reflected: Callable[[], int],
        wait_until_reflected: Callable[[], None],
        assert_applied_up_to: Callable[[int], None],
    ) -> None:
        """400 commands published while the projection's reflected position is read and checked, again and again,
        with ``assert_applied_up_to`` (every event at or below it is applied); then once more when everything is
        reflected. More than five checks must have seen a position above zero."""
        checked = 0
        with self.relay():
            stop = threading.Event()

            def commands() -> None:
                for _ in range(40):
                    if not stop.is_set():
                        workload.run(10)

            runner = threading.Thread(target=commands)
            runner.start()
            try:
                while runner.is_alive():
                    claimed = reflected()
                    assert_applied_up_to(claimed)
                    checked += claimed > 0
            finally:
                stop.set()
                runner.join(120)
            wait_until_reflected()
        assert_applied_up_to(reflected())
        assert checked > 5, "the claim was checked while the projection was moving"

    def projector_process(
        self, name: str, log_dir: Path, *, ops_port: int | None = None, extra_env: dict[str, str] | None = None
    ) -> ProjectorProcess:
        """``python -m eventledger_projections run <name>`` over this ledger's database and namespace (not started),
        its ops endpoint on ``ops_port`` (a free port if None), ``extra_env`` added to its environment."""
        env = projector_env(self.database, self.namespace, ops_port or free_port(), **(extra_env or {}))
        return ProjectorProcess(name, env, log_dir)

    @contextlib.contextmanager
    def serving_projector(self, name: str, log_dir: Path) -> Iterator[ProjectorProcess]:
        """:meth:`projector_process` started and ready: its ops endpoint (on a free port, ``ops_port``) answers
        /readyz with 200 and /healthz with ok. Killed at the end, if it still runs."""
        projector = self.projector_process(name, log_dir)
        try:
            projector.start()
            port = projector.ops_port
            wait_for(lambda: local_get(port, "/readyz")[0] == 200, 30, f"readiness:\n{projector.log_tail()}")
            assert local_get(port, "/healthz") == (200, '{"status":"ok"}')
            yield projector
        finally:
            projector.kill()

    def rebuild_twice_from_the_cli(
        self, name: str, workload: Workload, wait_until_reflected: Callable[[], None]
    ) -> list[subprocess.CompletedProcess[str]]:
        """``python -m eventledger_projections rebuild <name>`` run twice over this ledger while its projector runs
        (200 commands reflected before, 20 after); both must succeed, and the first ends with a finished progress
        bar on stderr. Answers both runs."""
        env = {
            **os.environ,
            "EVENTLEDGER_PG_DATABASE": self.database,
            "EVENTLEDGER_NAMESPACE": namespace_of(self.namespace).value,
        }
        command = [sys.executable, "-m", "eventledger_projections", "rebuild", name]
        with self.relay():
            workload.run(200)
            wait_until_reflected()
            runs = [
                subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)
                for _ in range(2)
            ]
            workload.run(20)
            wait_until_reflected()
        bar = runs[0].stderr.strip().splitlines()[-1]
        assert "100.0%" in bar
        assert "events/s" in bar
        assert "left" in bar
        return runs

    def rebuild_under_load(
        self,
        rebuild: Callable[[], R],
        *,
        workload: Workload,
        late: Workload,
        wait_until_reflected: Callable[[], None],
        reflected: Callable[[], int],
        switched: Callable[[], bool],
    ) -> tuple[R, list[int]]:
        """The hand-over every rebuild is tested with: 250 commands of ``workload`` reflected; then ``rebuild`` runs
        while 150 more are written and ``reflected`` is sampled every 5 ms; the live projector must follow the switch
        (``switched``) and reflect 20 commands of ``late`` after it. Answers what ``rebuild`` answered and the
        samples, which must never go back. (``rebuild`` may run ``late`` too, to move the log on before its switch.)"""
        samples: list[int] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append(reflected())
                time.sleep(0.005)

        with self.relay():
            workload.run(250)
            wait_until_reflected()
            sampler = threading.Thread(target=sample, name="sampler")
            writer = threading.Thread(target=workload.run, args=(150,), name="writer")
            sampler.start()
            writer.start()
            try:
                try:
                    report = rebuild()
                finally:
                    writer.join(120)
                wait_until_reflected()
                wait_for(switched, 30, "the projector to follow the switch")
                late.run(20)
                wait_until_reflected()
            finally:
                done.set()
                sampler.join(10)
        return report, samples

    @classmethod
    @contextlib.contextmanager
    def created(
        cls, prefix: str = "proj", pool_size: int = 4, *, namespace: str | None = None
    ) -> Iterator[ScratchLedger]:
        """Database and topics made for the test, dropped and deleted afterwards. The topics are those of a fresh
        namespace named after ``prefix``, or of the topic prefix ``namespace`` when the test chose one."""
        with scratch_database(Settings.from_env()) as database:
            settings = settings_for(database)
            namespace = namespace or new_namespace(prefix)
            create_topics(settings.kafka_bootstrap, namespace)
            store = PostgresEventStore(settings.postgres_dsn, pool_size=pool_size)
            try:
                yield ScratchLedger(database, settings, namespace, store)
            finally:
                store.close()
                delete_topics(settings.kafka_bootstrap, namespace)


@contextlib.contextmanager
def scratch_ledger_with_projector(name: str, log_dir: Path) -> Iterator[tuple[ScratchLedger, ProjectorProcess]]:
    """A scratch ledger and its projector process for read model ``name``, serving (see
    :meth:`ScratchLedger.serving_projector`)."""
    with (
        ScratchLedger.created(f"{name}-proc", pool_size=2) as ledger,
        ledger.serving_projector(name, log_dir) as projector,
    ):
        yield ledger, projector


def parked_poison(
    poison: Poison, parked: list[dict[str, Any]], projection: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two messages of :func:`produce_poison` as ``projection`` parked them (garbage first, then the unappliable
    event), checked for what the projection runtime parks alike for every read model: the message as it came, the
    reason, and where it was read."""
    assert len(parked) == 2
    assert {p["headers"]["dlq-projection"] for p in parked} == {projection}
    garbage = next(p for p in parked if p["headers"]["dlq-reason"].startswith("undecodable"))
    assert garbage["value"] == b"\x01garbage"
    assert garbage["key"] == poison.garbage_key
    assert garbage["headers"]["event-id"] == "not-a-uuid"
    assert garbage["headers"]["dlq-topic"] == poison.topic
    assert int(garbage["headers"]["dlq-offset"]) >= 0
    unappliable = next(p for p in parked if p is not garbage)
    assert unappliable["value"] == poison.record.value
    assert unappliable["headers"]["event-id"] == str(poison.envelope.event_id)
    return garbage, unappliable


def dead_letters(bootstrap: str, namespace: str, expected: int = 0, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every message of the namespaced dead-letter topic (key, value, headers as text), read to the end of each
    partition: so a count is exact, not whatever a time window happened to catch. Waits up to ``timeout`` for at least
    ``expected`` messages (``expected=0``: what the topic holds now)."""
    deadline = time.monotonic() + timeout
    while True:
        found = _read_to_end(bootstrap, namespace + DEAD_LETTER_TOPIC, deadline)
        if len(found) >= expected or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def _read_to_end(bootstrap: str, topic: str, deadline: float) -> list[dict[str, Any]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dlq-reader-{uuid.uuid4()}",  # never joined: the partitions are assigned, nothing committed
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    found: list[dict[str, Any]] = []
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return found  # nothing was ever parked: the topic is made on first use
        partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions]
        consumer.assign(partitions)
        pending = {p.partition for p in partitions}
        while pending:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{topic}: partitions {sorted(pending)} not read to their end in time")
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                    continue
                raise AssertionError(f"{topic}: {error}")
            pairs: list[tuple[str, Any]] = list(message.headers() or [])  # type: ignore[arg-type]
            headers = {name: (raw or b"").decode(errors="replace") for name, raw in pairs}
            found.append({"key": message.key(), "value": message.value(), "headers": headers})
    finally:
        consumer.close()
    return found


def settings_for(database: str) -> Settings:
    return dataclasses.replace(Settings.from_env(), pg_database=database)


class ProjectorProcess(ManagedProcess):
    """``python -m eventledger_projections run <name>`` as a child process (killable, restartable). With
    ``EVENTLEDGER_PROJECTION_TEST_KILL_AFTER_BATCHES`` in its environment it runs through the test launcher
    (:mod:`tests.support.projector_launcher`), which kills it after that batch's store write."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__("eventledger_projections", env, log_dir)
        self.name = name
        self.log_path = log_dir / f"projector-{name}.log"

    @property
    def ops_port(self) -> int:
        return int(self.env["EVENTLEDGER_PROJECTION_OPS_PORT"])

    def start(self, **extra_env: str) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed when it exits
        env = {**self.env, **extra_env}
        if env.get(KILL_AFTER_BATCHES):
            command = ["-m", "tests.support.projector_launcher", self.name]
        else:
            command = ["-m", self.module, "run", self.name]
        self.process = subprocess.Popen(
            [sys.executable, *command],
            env=env,
            cwd=REPOSITORY,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, number)


def projector_env(database: str, namespace: str, ops_port: int, **extra: str) -> dict[str, str]:
    return {
        "EVENTLEDGER_PG_DATABASE": database,
        "EVENTLEDGER_NAMESPACE": namespace_of(namespace).value,
        "EVENTLEDGER_PROJECTION_OPS_PORT": str(ops_port),
        "EVENTLEDGER_KAFKA_SESSION_TIMEOUT_SECONDS": "6",
        **extra,
    }


def reflected(dsn: str) -> int:
    """The PostgreSQL read model's position; 0 while no projector has created its schema yet (a projector started,
    killed and started again on a loaded machine may not have reached its migrations when a test first asks)."""
    with psycopg.connect(dsn) as conn:
        try:
            return reflected_position(conn)
        except (psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedFunction):
            return 0


def produce(
    bootstrap: str, topic: str, key: bytes, value: bytes, headers: list[tuple[str, str | bytes | None]]
) -> None:
    """One message, acknowledged by every replica."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    producer.produce(topic, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0


@dataclass(frozen=True)
class Poison:
    """The two poison messages of :func:`produce_poison`: where the garbage went, and the unappliable event."""

    topic: str
    garbage_key: bytes
    stranger: uuid.UUID
    envelope: EventEnvelope
    record: KafkaRecord


def produce_poison(bootstrap: str, namespace: str, known_account: uuid.UUID) -> Poison:
    """Two messages no read model can apply, on the namespace's accounts topic: bytes that are not an EventLedger
    message (keyed by a known account, with an ``event-id`` header that is not a UUID), then a well-formed credit to
    an account no read model saw opened."""
    topic = namespace + ACCOUNTS_TOPIC
    key = account_stream_id(known_account).encode()
    produce(bootstrap, topic, key, b"\x01garbage", [("event-id", b"not-a-uuid")])
    envelope = credit_to_a_stranger(position=1, actor="intruder")
    record = to_kafka_record(envelope)
    produce(bootstrap, topic, record.key, record.value, list(record.headers))
    return Poison(topic, key, parse_stream_id(envelope.stream_id)[1], envelope, record)
