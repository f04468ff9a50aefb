"""Crypto-shredding on the running system (issue 12 item 2): after an erasure, a byte search of every store finds
neither the holder's name nor a description of a transfer they took part in; balances, statements and the log's
proofs still verify; a rebuild of every read model still leaves no trace.

What is searched, and how (docs/audit.md says what erasure leaves and why):

- **PostgreSQL**: a ``pg_dump`` of the system's database (every table: the event store, snapshots, idempotency
  answers, every read-model schema and sandbox), and the raw files of every relation of that database after
  ``VACUUM FULL`` and ``CHECKPOINT`` (an update leaves the old row in the page until the table is rewritten: the
  runbook step an operator runs after an erasure). The write-ahead log and backups are *not* searched: they keep the
  old rows until they age out.
- **Kafka**: the raw log segment files of every topic of the system's namespace, the dead-letter topic included
  (the holder's sealed ``account.opened`` is made to be parked there first). Sealed values only, ever: neither
  name is in them, and the record keys are (the search looks).
- **Redis**: the append-only file after the rewrite the erasure asks for, and an RDB dump (``SAVE``), both written
  uncompressed for the search (``rdbcompression`` is set back afterwards).
- **Elasticsearch**: the files of every index of the namespace on disk, once the erasure's purge has run.
- **Logs**: every log file of the system's services.

The other holder's name is a positive control: present in the PostgreSQL dump, the Redis dump and the
Elasticsearch files, so each search is shown to find what is there.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from elasticsearch import Elasticsearch
from tests.support.audit_log import verify_offline
from tests.support.processes import wait_for
from tests.support.projection_rig import dead_letters
from tests.support.system import ROLES, RunningSystem

from eventledger_events import ACCOUNTS_TOPIC
from eventledger_events.personal import ERASED
from eventledger_events.topics import HEADER_EVENT_TYPE
from eventledger_infra import system
from eventledger_infra.settings import Settings
from eventledger_projections.runtime.log import DEAD_LETTER_TOPIC
from eventledger_runtime.settings import Namespace

READ_MODELS = ("postgres", "redis", "elasticsearch")


def _letters(n: int) -> str:
    return "".join(chr(97 + b % 26) for b in uuid.uuid4().bytes[:n])


@dataclass(frozen=True)
class Story:
    """Two holders: Zenobia is erased, Barnaby is not (the positive control)."""

    tag: str
    zenobia: str
    barnaby: str
    from_zenobia: str
    to_zenobia: str
    kept: str
    erasure_position: int

    @property
    def name(self) -> str:
        return f"Zenobia Quill{self.tag}"

    @property
    def secret(self) -> str:
        return f"houseboat{self.tag} rent"

    @property
    def kept_name(self) -> str:
        return f"Barnaby Kettle{self.tag}"

    @property
    def kept_description(self) -> str:
        return f"chessclub{self.tag} dues"

    @property
    def erased_words(self) -> list[bytes]:
        """The erased holder's personal data, whole and by its distinctive words."""
        words = [
            self.name,
            self.secret,
            f"Quill{self.tag}",
            f"houseboat{self.tag}",
            f"gift{self.tag}",
            f"salary{self.tag}",
        ]
        return [w.encode() for w in words] + [w.lower().encode() for w in words]


@dataclass(frozen=True)
class Stores:
    settings: Settings
    namespace: Namespace
    database: str

    @property
    def servers(self) -> Path:
        """The shared servers' state folder (the system's own state folder holds only its services)."""
        return Settings.from_env().state_dir


@pytest.fixture(scope="module")
def client(ledger: RunningSystem) -> Iterator[httpx.Client]:
    token = ledger.token(*ROLES, subject="erasure-e2e")
    with httpx.Client(base_url=ledger.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def stores(ledger: RunningSystem) -> Stores:
    return Stores(
        ledger.settings, Namespace(ledger.env["EVENTLEDGER_NAMESPACE"]), ledger.env["EVENTLEDGER_PG_DATABASE"]
    )


def _created(response: httpx.Response) -> dict[str, object]:
    assert response.status_code in (200, 201, 202), response.text
    return dict(response.json())


def _reflected(client: httpx.Client, account_id: str, position: int) -> dict[str, object]:
    answer = client.get(f"/v1/accounts/{account_id}", headers={"X-Min-Position": str(position)})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def story(ledger: RunningSystem, client: httpx.Client, stores: Stores) -> Story:
    """The two holders' history, a sandbox of every read model made before the erasure, the holder's sealed
    ``account.opened`` parked in the dead-letter topic, then the erasure through the admin route, applied by every
    read model."""
    tag = _letters(8)
    zenobia = str(
        _created(client.post("/v1/accounts", json={"holder_name": f"Zenobia Quill{tag}", "currency": "EUR"}))[
            "account_id"
        ]
    )
    barnaby = str(
        _created(client.post("/v1/accounts", json={"holder_name": f"Barnaby Kettle{tag}", "currency": "EUR"}))[
            "account_id"
        ]
    )
    _created(
        client.post(
            "/v1/deposits", json={"account_id": zenobia, "amount": 5_000, "description": f"salary{tag} for Zenobia"}
        )
    )
    _created(
        client.post(
            "/v1/deposits", json={"account_id": barnaby, "amount": 5_000, "description": f"chessclub{tag} dues"}
        )
    )
    pair = {"from_account_id": zenobia, "to_account_id": barnaby}
    moved = _created(
        client.post("/v1/transfers", json={**pair, "amount": 1_200, "description": f"houseboat{tag} rent"})
    )
    back = {"from_account_id": barnaby, "to_account_id": zenobia}
    gift = _created(
        client.post("/v1/transfers", json={**back, "amount": 300, "description": f"gift{tag} for the holidays"})
    )
    kept = _created(client.post("/v1/transfers", json={**back, "amount": 1, "description": f"chessclub{tag} dues"}))
    last = int(str(kept["position"]))
    assert _reflected(client, zenobia, last)["holder_name"] == f"Zenobia Quill{tag}"
    wait_for(lambda: _es_holds(stores, f"quill{tag}"), 60, "the search index to hold the holder")
    for name in READ_MODELS:
        _projections_cli(ledger, "rebuild", name, "--as-of-position", str(last), "--sandbox", f"before{tag}")
    _park_the_sealed_opening(stores, zenobia)
    erased = client.post(f"/v1/admin/accounts/{zenobia}/erasure", json={"reason": "the holder asked (GDPR art. 17)"})
    assert erased.status_code in (200, 201, 202), erased.text
    assert erased.json()["erased_by"] == "erasure-e2e"

    def masked() -> bool:
        return bool(client.get(f"/v1/accounts/{zenobia}").json()["holder_name"] == ERASED)

    wait_for(masked, 60, "the PostgreSQL read model to apply the erasure")
    position = int(client.get(f"/v1/accounts/{zenobia}").headers["X-Read-Position"])
    wait_for(lambda: _redis_erased(stores, zenobia), 60, "the Redis read model to apply the erasure")
    wait_for(lambda: not _es_holds(stores, f"quill{tag}"), 60, "the search index to apply the erasure")
    return Story(
        tag, zenobia, barnaby, str(moved["transfer_id"]), str(gift["transfer_id"]), str(kept["transfer_id"]), position
    )


def _projections_cli(ledger: RunningSystem, *args: str) -> None:
    command = [sys.executable, "-m", "eventledger_projections", *args]
    done = subprocess.run(command, env=ledger.env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _es(stores: Stores) -> Elasticsearch:
    return Elasticsearch(stores.settings.elasticsearch_url, request_timeout=60)


def _es_holds(stores: Stores, word: str) -> bool:
    with _es(stores) as es:
        index = f"{stores.namespace.index_prefix}*"
        es.indices.refresh(index=index, expand_wildcards="open")
        found = es.search(index=index, query={"query_string": {"query": word}}, size=1)
        return int(found["hits"]["total"]["value"]) > 0


def _redis(stores: Stores) -> redis.Redis:
    return redis.Redis.from_url(stores.settings.redis_url, decode_responses=True)


def _redis_erased(stores: Stores, account_id: str) -> bool:
    client = _redis(stores)
    try:
        base = stores.namespace.redis_base
        live = str(client.get(f"{base}:live"))
        return client.hget(f"{base}:v{live}:account:{account_id}", "holder_name") == ERASED
    finally:
        client.close()


def _park_the_sealed_opening(stores: Stores, account_id: str) -> None:
    """Produce the holder's ``account.opened`` again, exactly as the relay wrote it but with a malformed event-type
    header: every projector parks it in the dead-letter topic, which then holds what Kafka held (sealed)."""
    topic = stores.namespace.topic(ACCOUNTS_TOPIC)
    key = f"account-{account_id}".encode()
    consumer = Consumer(
        {
            "bootstrap.servers": stores.settings.kafka_bootstrap,
            "group.id": f"erasure-e2e-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() or message.key() != key:
                continue
            raw: list[tuple[str, bytes]] = list(message.headers() or [])  # type: ignore[arg-type]
            headers = [(str(n), bytes(v or b"")) for n, v in raw]
            if (HEADER_EVENT_TYPE, b"account.opened") not in headers:
                continue
            poisoned: list[tuple[str, str | bytes | None]] = [
                (n, b"\xff" + v if n == HEADER_EVENT_TYPE else v) for n, v in headers
            ]
            producer = Producer({"bootstrap.servers": stores.settings.kafka_bootstrap})
            producer.produce(topic, message.value(), key, headers=poisoned)
            producer.flush(10)
            break
        else:
            raise AssertionError(f"no record of {key!r} in {topic}")
    finally:
        consumer.close()
    parked = dead_letters(stores.settings.kafka_bootstrap, stores.namespace.topic_prefix, len(READ_MODELS), 60)
    assert len([m for m in parked if m["key"] == key]) >= len(READ_MODELS), parked


# ---------------------------------------------------------------------------------------------- the byte search
def _absent(what: str, data: bytes, story: Story) -> None:
    for word in story.erased_words:
        at = data.find(word)
        assert at < 0, f"{what}: {word!r} found: {data[max(0, at - 80) : at + 80]!r}"


def _files(root: Path, pattern: str = "*") -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob(pattern)) if p.is_file())


def test_postgresql_holds_no_trace(story: Story, stores: Stores) -> None:
    dsn = stores.settings.postgres_dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM FULL")
        conn.execute("CHECKPOINT")
        paths = [
            row[0]
            for row in conn.execute(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE pg_relation_filepath(c.oid) IS NOT NULL"
                " AND c.relkind IN ('r', 't', 'i', 'm')"
            ).fetchall()
        ]
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--data-only", f"--dbname={dsn}"], capture_output=True, timeout=300, check=True
    ).stdout
    _absent("pg_dump", dump, story)
    assert story.kept_name.encode() in dump, "the positive control: the other holder is in the dump"
    data_dir = stores.servers / "postgres" / "data"
    raw = b"".join((data_dir / path).read_bytes() for path in paths if (data_dir / path).exists())
    raw += b"".join(
        p.read_bytes()
        for path in paths
        for p in data_dir.glob(f"{path}.*")
        if p.is_file()  # segments over 1 GB
    )
    _absent("the database's relation files", raw, story)
    assert story.kept_name.encode() in raw, "the positive control: the other holder is in the relation files"


def test_kafka_holds_only_sealed_values(story: Story, stores: Stores) -> None:
    data_dir = stores.servers / "kafka" / "data"
    prefix = stores.namespace.topic_prefix
    folders = [f for f in data_dir.iterdir() if f.is_dir() and f.name.startswith(prefix)]
    dead = [f for f in folders if f.name.startswith(prefix + DEAD_LETTER_TOPIC)]
    assert dead, f"no dead-letter partition under {prefix}"
    segments = b"".join(_files(folder, "*.log") for folder in folders)
    _absent("the Kafka log segments", segments, story)
    assert story.kept_name.encode() not in segments, "Kafka never holds a plaintext name, erased or not"
    parked = b"".join(_files(folder, "*.log") for folder in dead)
    assert f"account-{story.zenobia}".encode() in parked, "the positive control: the parked record is there"


def test_redis_holds_no_trace(story: Story, stores: Stores) -> None:
    client = _redis(stores)
    try:
        base = stores.namespace.redis_base
        wait_for(lambda: not client.exists(f"{base}:aof-rewrite-due"), 60, "the erasure's append-only-file rewrite")
        compression = str(client.config_get("rdbcompression")["rdbcompression"])
        client.config_set("rdbcompression", "no")
        try:
            wait_for(lambda: not _rewriting(client), 120, "a running rewrite to end")
            client.bgrewriteaof()
            time.sleep(0.5)
            wait_for(lambda: not _rewriting(client), 120, "the rewrite of the append-only file")
            client.save()
        finally:
            client.config_set("rdbcompression", compression)
        folder = Path(str(client.config_get("dir")["dir"]))
    finally:
        client.close()
    dump = (folder / "dump.rdb").read_bytes()
    _absent("the Redis dump", dump, story)
    assert story.kept_name.encode() in dump, "the positive control: the other holder is in the dump"
    aof = _files(folder / "appendonlydir")
    _absent("the Redis append-only file", aof, story)


def _rewriting(client: redis.Redis) -> bool:
    info = client.info("persistence")
    return bool(info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled"))


def _index_files(stores: Stores) -> tuple[bytes, list[str]]:
    with _es(stores) as es:
        found = es.indices.get(index=f"{stores.namespace.index_prefix}*", expand_wildcards="all").body
        uuids = [found[index]["settings"]["index"]["uuid"] for index in found]
    root = stores.servers / "elasticsearch" / "data" / "indices"
    return b"".join(_files(root / u) for u in uuids), sorted(found)


def test_elasticsearch_files_hold_no_trace_once_purged(story: Story, stores: Stores) -> None:
    def purged() -> bool:
        data, _ = _index_files(stores)
        return all(word not in data for word in story.erased_words)

    wait_for(purged, 180, "the erasure's purge (retention leases move on about every 30 s)", interval=2)
    data, indices = _index_files(stores)
    _absent(f"the index files of {indices}", data, story)
    assert story.kept_name.encode() in data, "the positive control: the other holder is in the index files"


def test_service_logs_hold_no_trace(story: Story, ledger: RunningSystem) -> None:
    logs = _files(system.system_dir(ledger.settings), "*.log")
    assert logs, "the services wrote logs"
    _absent("the service logs", logs, story)


# ---------------------------------------------------------------------------------------------- still a ledger
def test_balances_and_statements_answer_with_the_data_erased(story: Story, client: httpx.Client) -> None:
    after = {"X-Min-Position": str(story.erasure_position)}
    account = client.get(f"/v1/accounts/{story.zenobia}", headers=after).json()
    assert (account["holder_name"], account["balance"]) == (ERASED, 5_000 - 1_200 + 300 + 1)
    lines = client.get(f"/v1/accounts/{story.zenobia}/entries", headers=after).json()["items"]
    assert {line["description"] for line in lines} == {ERASED}
    other = client.get(f"/v1/accounts/{story.barnaby}/entries", headers=after).json()["items"]
    by_transfer = {line["transfer_id"]: line["description"] for line in other}
    assert by_transfer[story.from_zenobia] == ERASED, "the other party's line of a shared transfer"
    assert by_transfer[story.kept] == ERASED, "sealed under both parties' keys"
    assert story.kept_description in by_transfer.values(), "the other holder's own data stays"
    assert client.get(f"/v1/transfers/{story.from_zenobia}", headers=after).json()["description"] == ERASED
    for words in (f"Quill{story.tag}", f"houseboat{story.tag}"):
        hits = client.get("/v1/search/transfers", params={"q": words}, headers=after).json()
        assert hits["total"] == 0, hits
    assert client.get("/v1/search/transfers", params={"q": f"Kettle{story.tag}"}, headers=after).json()["total"] > 0


def test_the_logs_proofs_still_verify(story: Story, ledger: RunningSystem, tmp_path: Path) -> None:
    auditor = {"Authorization": f"Bearer {ledger.token('auditor')}"}
    with httpx.Client(base_url=ledger.gateway_url, headers=auditor, timeout=60) as client:
        wait_for(lambda: client.post("/v1/audit/tree-heads").status_code == 201, 30, "a signed tree head")
        head = client.get("/v1/audit/tree-heads/latest").json()
        assert head["tree_size"] >= story.erasure_position
        key = client.get("/v1/audit/tree-heads/key").json()
        export = client.get("/v1/audit/log-export", params={"to_leaf": head["tree_size"]})
        assert export.status_code == 200
        assert client.get("/v1/audit/log-check").json()["intact"] is True
    verified = verify_offline(tmp_path, export.text, head, key["public_key_pem"])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_rebuild_of_every_read_model_after_the_erasure_leaves_no_trace(
    story: Story, ledger: RunningSystem, stores: Stores
) -> None:
    for name in READ_MODELS:
        _projections_cli(ledger, "rebuild", name)
    with psycopg.connect(stores.settings.postgres_dsn) as conn:
        schemas = [
            row[0]
            for row in conn.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'account_entries'"
                " AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        text = "\n".join(
            str(row)
            for schema in schemas
            for table in ("accounts", "account_entries", "transfers")
            for row in conn.execute(f'SELECT * FROM "{schema}".{table}').fetchall()
        ).encode()
    assert any(re.search(r"_sandbox_before", s) for s in schemas), "the sandboxes made before the erasure"
    _absent("every read-model schema and sandbox after a rebuild", text, story)
    assert story.kept_name.encode() in text
    client = _redis(stores)
    try:
        keys = list(client.scan_iter(match=f"{stores.namespace.redis_base}:*account:*", count=1000))
        redis_text = "\n".join(str(client.hgetall(k)) for k in keys).encode()
    finally:
        client.close()
    _absent("every Redis account hash after a rebuild", redis_text, story)
    assert story.kept_name.encode() in redis_text
    assert not _es_holds(stores, f"quill{story.tag}")
    assert not _es_holds(stores, f"houseboat{story.tag}")
    assert _es_holds(stores, f"kettle{story.tag}")
