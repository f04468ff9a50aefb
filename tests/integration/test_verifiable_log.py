"""The verifiable log on PostgreSQL (ADR 0025), as an auditor meets it: the notary's tree and signed heads, the
audit API's proofs checked with the RFC 9162 verification algorithms, the export verified offline by the standalone
verifier, and a database superuser's tampering (triggers off) found at exactly the event it touched, by the verifier
and by the API alike; a rewritten past that is internally valid is caught by the consistency proof."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool
from tests.support.audit_log import verify_offline
from tests.support.eventstore import isolated_schema, new_event

from eventledger_command.api.app import create_app
from eventledger_command.bootstrap import build
from eventledger_command.eventstore.errors import ConcurrencyConflict
from eventledger_command.eventstore.postgres import PostgresEventStore
from eventledger_command.eventstore.records import AppendRequest, StreamWrite
from eventledger_command.notary.notary import Notary, TreeHeads
from eventledger_command.notary.service import VerifiableLog
from eventledger_command.notary.tree import PostgresMerkleTree
from eventledger_events.audit.hashing import GENESIS_HASH, content_digest, event_hash, to_micros
from eventledger_events.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from eventledger_events.audit.tree_head import parse_tree_head, sign_tree_head
from eventledger_runtime.eventlog import PostgresEventLogReader
from eventledger_runtime.settings import CommandSettings

KEY = Ed25519PrivateKey.generate()
STREAMS = ("account-a", "account-b", "transfer-c")


@dataclass
class Ledger:
    dsn: str
    store: PostgresEventStore
    verifiable: VerifiableLog
    notary: Notary
    api: TestClient

    def notarize(self) -> dict[str, Any]:
        while self.notary.run_once():
            pass
        answer = self.api.post("/v1/audit/tree-heads")
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def sql(self, statement: str, params: list[Any] | None = None) -> None:
        """As the database superuser, with the append-only triggers off."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")  # triggers do not fire
            conn.execute(statement, params or [])


@pytest.fixture
def ledger(endpoints: Any) -> Iterator[Ledger]:
    with isolated_schema(endpoints.postgres_dsn, prefix="vlog") as dsn:
        store = PostgresEventStore(dsn, pool_size=4)
        verifiable = VerifiableLog(dsn, lambda tree: TreeHeads(tree, KEY))
        container = build(CommandSettings(), store=store, verifiable_log=verifiable)
        reader = PostgresEventLogReader(dsn, name="notary-test")
        pool = ConnectionPool(dsn, min_size=1, max_size=2, open=True, kwargs={"autocommit": True})
        tree = PostgresMerkleTree(pool)
        notary = Notary(tree, reader, TreeHeads(tree, KEY), batch=7, head_every_seconds=0)
        with TestClient(create_app(container, background=False)) as api:
            yield Ledger(dsn, store, verifiable, notary, api)
        reader.close()
        pool.close()


def _record(ledger: Ledger, rounds: int = 4) -> list[int]:
    """Events on three streams over several appends, one of them failing (a hole in the positions)."""
    positions: list[int] = []
    versions = {stream: ledger.store.stream_version(stream) for stream in STREAMS}
    for round_number in range(rounds):
        for stream in STREAMS:
            events = tuple(new_event(note=f"round {round_number} of {stream}", who="Zoë") for _ in range(2))
            result = ledger.store.append(AppendRequest((StreamWrite(stream, versions[stream], events),)))
            versions[stream] += 2
            positions += result.positions
        if round_number == 1:
            with pytest.raises(ConcurrencyConflict):  # a stale version: its positions are drawn, then rolled back
                ledger.store.append(AppendRequest((StreamWrite("account-a", 1, (new_event(),)),)))
    return positions


def _offline(ledger: Ledger, tmp_path: Path, head: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    export = ledger.api.get("/v1/audit/log-export", params={"to_leaf": head["tree_size"]})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    public_pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return verify_offline(tmp_path, export.text, head, public_pem.decode())


def test_an_intact_log_verifies_offline_and_every_proof_checks_out(ledger: Ledger, tmp_path: Path) -> None:
    positions = _record(ledger)
    first = ledger.notarize()
    assert first["tree_size"] == len(positions)
    assert ledger.api.get("/v1/audit/tree-heads/latest").json() == first
    key = ledger.api.get("/v1/audit/tree-heads/key").json()
    assert bytes.fromhex(key["public_key"]) == KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    verified = _offline(ledger, tmp_path, first)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"intact: {len(positions)} events")
    check = ledger.api.get("/v1/audit/log-check").json()
    assert check["intact"] is True
    root = bytes.fromhex(first["root_hash"])
    for position in positions:
        proof = ledger.api.get("/v1/audit/proofs/inclusion", params={"position": position, "tree_size": len(positions)})
        body = proof.json()
        path = [bytes.fromhex(h) for h in body["inclusion_path"]]
        assert verify_inclusion(bytes.fromhex(body["leaf_hash"]), body["leaf_index"], len(positions), path, root)
    more = _record(ledger, rounds=1)
    second = ledger.notarize()
    assert second["tree_size"] == len(positions) + len(more)
    proof = ledger.api.get(
        "/v1/audit/proofs/consistency", params={"first": first["tree_size"], "second": second["tree_size"]}
    ).json()
    path = [bytes.fromhex(h) for h in proof["consistency_path"]]
    assert verify_consistency(first["tree_size"], second["tree_size"], path, root, bytes.fromhex(second["root_hash"]))
    beyond = ledger.api.get("/v1/audit/proofs/inclusion", params={"position": 10**9, "tree_size": 1})
    assert beyond.status_code == 404


def test_the_stored_leaves_are_the_published_formula_over_the_stored_chain(ledger: Ledger) -> None:
    _record(ledger, rounds=2)
    ledger.notarize()
    with psycopg.connect(ledger.dsn) as conn:
        rows = conn.execute(
            "SELECT l.leaf_index, l.leaf_hash, e.event_hash FROM log_leaves l JOIN events e USING (position)"
            " ORDER BY l.leaf_index"
        ).fetchall()
    assert [r[0] for r in rows] == list(range(len(rows)))
    assert all(bytes(r[1]) == leaf_hash(bytes(r[2])) for r in rows)


@pytest.mark.parametrize("tamper", ["edit a payload", "delete an event", "swap two events", "insert an event"])
def test_a_superusers_tampering_is_found_at_exactly_that_event(ledger: Ledger, tmp_path: Path, tamper: str) -> None:
    positions = _record(ledger)
    head = ledger.notarize()
    target = positions[7]
    if tamper == "edit a payload":
        ledger.sql(
            "UPDATE events SET payload = jsonb_set(payload, '{who}', '\"Mallory\"') WHERE position = %s", [target]
        )
        expected = ("altered", target)
    elif tamper == "delete an event":
        ledger.sql("DELETE FROM events WHERE position = %s", [target])
        expected = ("missing", target)
    elif tamper == "swap two events":
        other = positions[10]
        columns = (
            "stream_id, stream_version, event_id, event_type, schema_version, occurred_at, recorded_at, actor,"
            " correlation_id, causation_id, payload, event_hash, tx_id"
        )
        assignments = ", ".join(f"{c} = o.{c}" for c in columns.split(", "))
        ledger.sql("ALTER TABLE events DROP CONSTRAINT events_stream_version_key")
        ledger.sql("ALTER TABLE events DROP CONSTRAINT events_event_id_key")
        ledger.sql(
            f"UPDATE events e SET {assignments} FROM (SELECT position, {columns} FROM events"
            " WHERE position IN (%s, %s)) o WHERE e.position IN (%s, %s) AND o.position <> e.position",
            [target, other, target, other],
        )
        expected = ("reordered", target)
    else:
        hole = next(p for p in range(positions[0], positions[-1]) if p not in positions)
        _insert_forged_row(ledger, hole)
        expected = ("inserted", hole)
    verified = _offline(ledger, tmp_path, head)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"{expected[0]}: event at position {expected[1]}"), verified.stdout
    problem = ledger.api.get("/v1/audit/log-check").json()["problem"]
    assert (problem["kind"], problem["position"]) == expected


def test_a_rewritten_past_is_caught_by_the_consistency_proof_though_its_new_tree_is_valid(ledger: Ledger) -> None:
    """The attacker holds the database and the signing key: they change an old event, recompute every chain hash,
    leaf and node, and sign a new head. Everything they publish is internally valid; the auditor's older head is
    not a prefix of it."""
    positions = _record(ledger)
    kept_by_auditor = ledger.notarize()
    ledger.sql(
        "UPDATE events SET payload = jsonb_set(payload, '{who}', '\"Mallory\"') WHERE position = %s", [positions[3]]
    )
    _rehash_everything(ledger)
    _record(ledger, rounds=1)
    forged = ledger.notarize()
    assert ledger.api.get("/v1/audit/log-check").json()["intact"] is True, "the forged log is internally valid"
    proof = ledger.api.get(
        "/v1/audit/proofs/consistency",
        params={"first": kept_by_auditor["tree_size"], "second": forged["tree_size"]},
    ).json()
    path = [bytes.fromhex(h) for h in proof["consistency_path"]]
    assert not verify_consistency(
        kept_by_auditor["tree_size"],
        forged["tree_size"],
        path,
        bytes.fromhex(kept_by_auditor["root_hash"]),
        bytes.fromhex(forged["root_hash"]),
    )


def _rehash_everything(ledger: Ledger) -> None:
    """What an attacker with the key does: recompute the chain, rebuild the tree, sign again."""
    with psycopg.connect(ledger.dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        rows = conn.execute(
            "SELECT position, stream_id, stream_version, event_id, event_type, schema_version, occurred_at,"
            " recorded_at, actor, correlation_id, causation_id, payload FROM events ORDER BY position"
        ).fetchall()
        previous: dict[str, bytes] = {}
        hashes: list[tuple[int, bytes]] = []
        for row in rows:
            digest = content_digest(
                stream_id=row[1], stream_version=row[2], event_id=row[3], event_type=row[4], schema_version=row[5],
                occurred_at=row[6], actor=row[8], correlation_id=row[9], causation_id=row[10], payload=row[11],
            )  # fmt: skip
            link = event_hash(digest, row[0], to_micros(row[7]), previous.get(row[1], GENESIS_HASH))
            previous[row[1]] = link
            hashes.append((row[0], link))
            conn.execute("UPDATE events SET event_hash = %s WHERE position = %s", [link, row[0]])
        conn.execute("DELETE FROM log_leaves")
        conn.execute("DELETE FROM merkle_nodes")
        conn.execute("DELETE FROM tree_heads")
    tree = PostgresMerkleTree(
        ConnectionPool(ledger.dsn, min_size=1, max_size=1, open=True, kwargs={"autocommit": True})
    )
    tree.grow(0, hashes)
    head = sign_tree_head(KEY, len(hashes), tree.at(len(hashes)).root(), 1)
    tree.save_head(parse_tree_head(head.to_json()))


def test_events_recorded_before_the_verifiable_log_get_their_chain_once(ledger: Ledger, endpoints: Any) -> None:
    _record(ledger, rounds=1)
    with psycopg.connect(ledger.dsn) as conn:
        before = conn.execute("SELECT position, event_hash FROM events ORDER BY position").fetchall()
    ledger.sql("UPDATE events SET event_hash = NULL")
    PostgresEventStore(ledger.dsn, pool_size=1).close()  # a store that starts hashes what has no hash
    with psycopg.connect(ledger.dsn) as conn:
        after = conn.execute("SELECT position, event_hash FROM events ORDER BY position").fetchall()
        triggers = conn.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'events_append_only'").fetchone()
    assert after == before
    assert triggers == ("O",), "the append-only trigger is on again"
    _record(ledger, rounds=1)  # and appends chain on


def _insert_forged_row(ledger: Ledger, position: int) -> None:
    """A row the notary never saw, at ``position``, with a valid-looking hash (as a superuser, triggers off)."""
    ledger.sql(
        "INSERT INTO events (position, tx_id, stream_id, stream_version, event_id, event_type, schema_version,"
        " occurred_at, actor, correlation_id, payload, event_hash) OVERRIDING SYSTEM VALUE"
        " VALUES (%s, pg_current_xact_id(), 'account-forged', 1, %s, 'test.happened', 1, now(), 'mallory',"
        " %s, '{\"n\": 1}', %s)",
        [position, uuid.uuid4(), uuid.uuid4(), bytes(32)],
    )


def _offline_range(
    ledger: Ledger, tmp_path: Path, head: dict[str, Any], first: int, end: int
) -> subprocess.CompletedProcess[str]:
    export = ledger.api.get(
        "/v1/audit/log-export", params={"from_leaf": first, "to_leaf": end, "tree_size": head["tree_size"]}
    )
    assert export.status_code == 200, export.text
    assert export.text.startswith('{"range":')
    public_pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return verify_offline(tmp_path, export.text, head, public_pem.decode())


def test_a_range_of_the_log_verifies_offline_against_the_latest_head_and_its_tampering_is_found(
    ledger: Ledger, tmp_path: Path
) -> None:
    """An auditor who checks only the last part of a long log: the range's leaves, the nodes outside it and the
    chain links before it come from the store; an edit inside the range is named at its event."""
    positions = _record(ledger)
    head = ledger.notarize()
    intact = _offline_range(ledger, tmp_path, head, 9, 20)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.startswith(f"intact: 11 events, tree size {head['tree_size']}")
    ledger.sql(
        "UPDATE events SET payload = jsonb_set(payload, '{who}', '\"Mallory\"') WHERE position = %s", [positions[14]]
    )
    altered = _offline_range(ledger, tmp_path, head, 9, 20)
    assert altered.returncode == 1, altered.stdout + altered.stderr
    assert altered.stdout.startswith(f"altered: event at position {positions[14]}"), altered.stdout
    outside = _offline_range(ledger, tmp_path, head, 16, head["tree_size"])
    assert outside.returncode == 0, "an edit before the range is not the range's problem: " + outside.stdout


def test_the_log_export_refuses_a_range_the_tree_does_not_hold(ledger: Ledger) -> None:
    _record(ledger, rounds=1)
    head = ledger.notarize()
    size = head["tree_size"]
    for params, status in (
        ({"from_leaf": 3, "to_leaf": 2}, 422),
        ({"from_leaf": 0, "to_leaf": size, "tree_size": size - 1}, 422),
        ({"from_leaf": 0, "to_leaf": size + 1, "tree_size": size + 1}, 404),
    ):
        answer = ledger.api.get("/v1/audit/log-export", params=params)
        assert answer.status_code == status, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"


def test_a_row_inserted_between_two_export_batches_is_found(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export reads leaves in batches; a forged row in the hole between the last leaf of one batch and the first
    of the next belongs to one of them, or it would escape both."""
    positions = _record(ledger)
    head = ledger.notarize()
    hole = next(p for p in range(positions[0], positions[-1]) if p not in positions)
    boundary = next(index for index, position in enumerate(positions) if position > hole)
    monkeypatch.setattr("eventledger_command.notary.service.EXPORT_BATCH", boundary)
    _insert_forged_row(ledger, hole)
    verified = _offline(ledger, tmp_path, head)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"inserted: event at position {hole}"), verified.stdout
