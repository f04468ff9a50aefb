"""The disaster-recovery drill (ADR 0033, docs/operations.md): a private PostgreSQL cluster with continuous backup
takes deposits through the command service while the relay publishes them; a base backup is taken under the load;
the load goes on; PostgreSQL is SIGKILLed and its data directory deleted. ``make restore``'s command then rebuilds
it, and the drill checks that every acknowledged deposit survived (RPO 0), that the verifiable log still verifies
against the tree head signed before the disaster, that the Kafka topics can be republished from the restored store
(into a fresh namespace, as if Kafka was lost too), and that every read model rebuilt from the restored store agrees
with it. The cluster is this module's own (its own port and state folder): the shared server is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from tests.support.clusters import private_cluster
from tests.support.elasticsearch_rig import drop_read_model
from tests.support.kafka_checker import consume_all
from tests.support.projection_rig import delete_topics, relay_running
from tests.support.redis_keys import delete_keys
from tests.support.servers import Endpoints

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import build
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.notary.notary import Notary, TreeHeads
from eventledger_command.notary.service import VerifiableLog
from eventledger_command.notary.tree import PostgresMerkleTree
from eventledger_events import ALL_TOPICS
from eventledger_events.audit.merkle import verify_consistency
from eventledger_infra.services.postgres import PostgresServer
from eventledger_infra.settings import PROJECT_ROOT
from eventledger_projections.elasticsearch import IndexNames
from eventledger_projections.elasticsearch.search import TransferQuery
from eventledger_query.services import build as build_query
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.kafka import ensure_topics
from eventledger_runtime.settings import CommandSettings, Namespace, QuerySettings

KEY = Ed25519PrivateKey.generate()
ACCOUNTS = 6


@pytest.fixture(scope="module")
def cluster(endpoints: Endpoints) -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of this module's own with continuous backup, made by the provisioning code."""
    with private_cluster(continuous_backup=True, tag="drill") as server:
        yield server


def _infra(server: PostgresServer, *args: str) -> subprocess.CompletedProcess[str]:
    """The provisioning tool's command line, on the drill's cluster (what ``make backup`` / ``make restore`` run)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT / "infrastructure" / "src"),
        "EVENTLEDGER_STATE_DIR": str(server.settings.state_dir),
        "EVENTLEDGER_PG_PORT": str(server.settings.pg_port),
    }
    return subprocess.run(
        [sys.executable, "-m", "eventledger_infra", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


class Depositors:
    """Three clients depositing into the accounts until stopped, keeping every acknowledged answer."""

    def __init__(self, api: TestClient, accounts: list[str]) -> None:
        self.api, self.accounts = api, accounts
        self.acknowledged: list[dict[str, Any]] = []
        self.failures = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(3)]

    def _run(self, seed: int) -> None:
        n = seed
        while not self.stop.is_set():
            n += 3
            body = {"account_id": self.accounts[n % len(self.accounts)], "amount": 1 + n % 97}
            try:
                answer = self.api.post("/v1/deposits", json=body)
            except Exception:
                answer = None
            with self.lock:
                if answer is not None and answer.status_code == 201:
                    self.acknowledged.append({**body, **answer.json()})
                else:
                    self.failures += 1
            if answer is None or answer.status_code >= 500:
                time.sleep(0.05)

    def __enter__(self) -> Depositors:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(90)
        assert not any(thread.is_alive() for thread in self.threads), "a depositor is stuck"


def _rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def _balances(dsn: str) -> tuple[dict[str, int], set[str]]:
    """Each account's balance after its last credit, and every deposit's transfer id, as the store records them."""
    balances: dict[str, int] = {}
    transfers: set[str] = set()
    credited = "SELECT payload FROM events WHERE event_type = 'account.credited' ORDER BY position"
    for (payload,) in _rows(dsn, credited):
        data = orjson.loads(payload) if isinstance(payload, str | bytes) else payload
        balances[data["account_id"]] = int(data["balance_after"])
        transfers.add(data["transfer_id"])
    return balances, transfers


def _rebuild(server: PostgresServer, name: str, namespace: Namespace) -> None:
    env = {
        **os.environ,
        "EVENTLEDGER_PG_PORT": str(server.settings.pg_port),
        "EVENTLEDGER_NAMESPACE": namespace.value,
    }
    command = [sys.executable, "-m", "eventledger_projections", "rebuild", name]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# The relay publishing during the load dies with PostgreSQL, as a relay process would (its supervisor restarts it).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_lost_data_directory_is_restored_with_every_acknowledged_command(
    cluster: PostgresServer, endpoints: Endpoints
) -> None:
    dsn = cluster.settings.postgres_dsn
    before = Namespace(f"drill-{uuid.uuid4().hex[:8]}")
    after = Namespace(f"drill-{uuid.uuid4().hex[:8]}")
    try:
        _drill(cluster, dsn, before, after, endpoints)
    finally:
        for namespace in (before, after):
            delete_topics(endpoints.kafka_bootstrap, namespace.topic_prefix)
            delete_keys(endpoints.redis_url, namespace.redis_prefix)
            with Elasticsearch(endpoints.elasticsearch_url, request_timeout=30) as es:
                drop_read_model(es, IndexNames(namespace.index_prefix))


def _drill(cluster: PostgresServer, dsn: str, before: Namespace, after: Namespace, endpoints: Endpoints) -> None:
    store = PostgresEventStore(dsn, pool_size=8)
    verifiable = VerifiableLog(dsn, lambda tree: TreeHeads(tree, KEY))
    container = build(CommandSettings(), store=store, verifiable_log=verifiable)
    ensure_topics(endpoints.kafka_bootstrap, [before.topic(t) for t in ALL_TOPICS], 3)
    with TestClient(create_app(container, background=False)) as api:
        accounts = []
        for n in range(ACCOUNTS):
            opened = api.post("/v1/accounts", json={"holder_name": f"Drill {n}", "currency": "EUR"})
            assert opened.status_code == 201, opened.text
            accounts.append(opened.json()["account_id"])
        with (
            relay_running(store, dsn, endpoints.kafka_bootstrap, before.topic_prefix),
            Depositors(api, accounts) as load,
        ):
            time.sleep(2)
            backup = _infra(cluster, "backup")
            assert backup.returncode == 0, backup.stderr
            head_before = _notarize(dsn, verifiable)
            time.sleep(3)
            acknowledged_before_kill = len(load.acknowledged)
            cluster.kill()
            time.sleep(0.5)
        assert acknowledged_before_kill > 50, "the load hardly ran"
    store.close()
    verifiable.close()
    shutil.rmtree(cluster.data_dir)
    assert not cluster.data_dir.exists()

    # ``make restore`` (to the latest commit); it refuses a bad time first, with a readable message.
    refused = _infra(cluster, "restore", "--to", "yesterday")
    assert refused.returncode == 1
    assert "is not a time" in refused.stderr, refused.stderr
    began = time.monotonic()
    restored = _infra(cluster, "restore")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    print(f"drill: {len(load.acknowledged)} deposits acknowledged, restore took {time.monotonic() - began:.1f} s")
    assert cluster.running()
    assert cluster.receiver_pid() is not None

    # RPO 0: every acknowledged deposit is in the restored store, with the balance its answer implied.
    balances, transfers = _balances(dsn)
    lost = [d for d in load.acknowledged if d["transfer_id"] not in transfers]
    assert not lost, f"{len(lost)} of {len(load.acknowledged)} acknowledged deposits were lost: {lost[:3]}"
    (head_position,) = _rows(dsn, "SELECT max(position) FROM events")[0]
    assert max(d["position"] for d in load.acknowledged) <= head_position

    # The verifiable log: the tree signed before the disaster is a prefix of the restored one, and the whole log
    # verifies against a head signed now.
    verifiable = VerifiableLog(dsn, lambda tree: TreeHeads(tree, KEY))
    try:
        head_now = _notarize(dsn, verifiable)
        _, verdict = verifiable.check()
        assert verdict is not None
        assert verdict.intact, verdict.describe()
        assert verdict.events == head_now.tree_size
        proof = verifiable.consistency(head_before.tree_size, head_now.tree_size)
        path = [bytes.fromhex(h) for h in proof["consistency_path"]]
        assert verify_consistency(
            head_before.tree_size, head_now.tree_size, path, head_before.root_hash, head_now.root_hash
        )
        # The store takes commands again, through the restarted synchronous receiver.
        store = PostgresEventStore(dsn, pool_size=2)
        with TestClient(
            create_app(build(CommandSettings(), store=store, verifiable_log=verifiable), background=False)
        ) as api:
            answer = api.post("/v1/deposits", json={"account_id": accounts[0], "amount": 5})
            assert answer.status_code == 201, answer.text
        store.close()
    finally:
        verifiable.close()
    balances, transfers = _balances(dsn)
    (events,) = _rows(dsn, "SELECT count(*) FROM events")[0]

    # Kafka lost too: the relay republishes the restored log, from its start, into a fresh namespace.
    republish = subprocess.run(
        [sys.executable, "-m", "eventledger_command.relay.republish"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "EVENTLEDGER_PG_PORT": str(cluster.settings.pg_port), "EVENTLEDGER_NAMESPACE": after.value},
    )
    assert republish.returncode == 0, republish.stderr
    assert "moved from" in republish.stdout
    ensure_topics(endpoints.kafka_bootstrap, [after.topic(t) for t in ALL_TOPICS], 3)
    store = PostgresEventStore(dsn, pool_size=2)
    checkpoints = PostgresEventLogReader(dsn)
    try:
        with relay_running(store, dsn, endpoints.kafka_bootstrap, after.topic_prefix):
            deadline = time.monotonic() + 120
            while checkpoints.checkpoint("kafka-relay") < _rows(dsn, "SELECT max(position) FROM events")[0][0]:
                assert time.monotonic() < deadline, "the relay did not republish the restored log"
                time.sleep(0.2)
    finally:
        checkpoints.close()
        store.close()
    delivered = consume_all(endpoints.kafka_bootstrap, [after.topic(t) for t in ALL_TOPICS], events)
    assert len({(m.topic, m.headers.get("event_id"), m.value) for m in delivered}) >= events

    # Every read model rebuilt from the restored store agrees with it.
    for name in ("postgres", "redis", "elasticsearch"):
        _rebuild(cluster, name, after)
    readers = build_query(QuerySettings(namespace=after.value), cluster.settings)
    try:
        for account in accounts:
            expected = balances.get(account, 0)
            row = readers.postgres.account(uuid.UUID(account))
            assert row is not None
            assert int(row["balance"]) == expected
            view = readers.redis.account(uuid.UUID(account))
            assert view is not None
            assert view.balance == expected
        found = readers.search.search(TransferQuery(limit=1))
        assert found.total == len(transfers)
    finally:
        readers.close()


def _notarize(dsn: str, verifiable: VerifiableLog) -> Any:
    """Grow the Merkle tree over every settled event and sign a tree head, as the relay's notary does."""
    pool = ConnectionPool(dsn, min_size=1, max_size=2, open=True, kwargs={"autocommit": True})
    reader = PostgresEventLogReader(dsn, name="drill-notary")
    try:
        tree = PostgresMerkleTree(pool)
        notary = Notary(tree, reader, TreeHeads(tree, KEY), batch=1000, head_every_seconds=0)
        while notary.run_once():
            pass
        return verifiable.sign_now()
    finally:
        reader.close()
        pool.close()
