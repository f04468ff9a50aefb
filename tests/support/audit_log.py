"""Exports of the verifiable log built in memory, with real hashes and a signed tree head, and the tampers an
auditor must catch (for the audit library's unit tests and the audit API's tests).

An export here is a list of JSON-ready dicts, one per line, in the form ``eventledger_events.audit.verify`` states.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventledger_events.audit import (
    GENESIS_HASH,
    InMemoryNodeSource,
    TreeHead,
    event_hash,
    exported_content_digest,
    format_timestamp,
    leaf_hash,
    parse_timestamp,
    range_nodes,
    root,
    sign_tree_head,
    to_micros,
)

STREAMS = ("account-0001", "account-0002", "transfer-0001")
START = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)
HEAD_TIMESTAMP_MS = 1_796_506_200_000

Line = dict[str, Any]


@dataclass
class AuditLog:
    """An export, its signed tree head and the notary's key."""

    lines: list[Line]
    head: TreeHead
    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def leaf_hashes(self) -> list[bytes]:
        return [bytes.fromhex(line["leaf_hash"]) for line in self.lines if line.get("leaf_index") is not None]

    def line_of_leaf(self, index: int) -> Line:
        return next(line for line in self.lines if line.get("leaf_index") == index)

    def write(self, folder: Path) -> dict[str, Path]:
        """The export, tree head and public key as the files the verifier's command line reads."""
        paths = {"export": folder / "log.jsonl", "tree_head": folder / "sth.json", "public_key": folder / "key.pem"}
        paths["export"].write_text("".join(json.dumps(line) + "\n" for line in self.lines), encoding="utf-8")
        paths["tree_head"].write_text(self.head.encode(), encoding="utf-8")
        paths["public_key"].write_bytes(self.public_key_pem)
        return paths


def make_events(count: int, streams: tuple[str, ...] = STREAMS, first_position: int = 7) -> list[dict[str, Any]]:
    """``count`` events round-robin over ``streams``, positions with holes (7, 10, 13, ...), hashes chained."""
    versions = dict.fromkeys(streams, 0)
    events = []
    for index in range(count):
        stream = streams[index % len(streams)]
        versions[stream] += 1
        events.append(
            {
                "position": first_position + 3 * index,
                "stream_id": stream,
                "stream_version": versions[stream],
                "event_id": str(uuid.UUID(int=index + 1)),
                "event_type": "account.credited.v1" if stream.startswith("account") else "transfer.posted.v1",
                "schema_version": 1,
                "occurred_at": format_timestamp(START + timedelta(seconds=index, microseconds=123_456)),
                "recorded_at": format_timestamp(START + timedelta(seconds=index, microseconds=654_321)),
                "actor": "teller-7",
                "correlation_id": str(uuid.UUID(int=1000 + index)),
                "causation_id": None if index % 2 else str(uuid.UUID(int=2000 + index)),
                "payload": {"amount": f"{index + 1}.50", "currency": "EUR", "memo": "café ☕"},
                "event_hash": "",
            }
        )
    return rehash(events)


def rehash(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events (in position order) with every ``event_hash`` recomputed along the stream chains."""
    chains: dict[str, bytes] = {}
    hashed = []
    for event in events:
        previous = chains.get(event["stream_id"], GENESIS_HASH)
        recorded = to_micros(parse_timestamp(event["recorded_at"]))
        digest = event_hash(exported_content_digest(event), event["position"], recorded, previous)
        chains[event["stream_id"]] = digest
        hashed.append({**event, "event_hash": digest.hex()})
    return hashed


def export_of(events: list[dict[str, Any]]) -> list[Line]:
    """The export of a log whose notary holds a leaf for each of ``events``."""
    return [
        {
            "leaf_index": index,
            "position": event["position"],
            "leaf_hash": leaf_hash(bytes.fromhex(event["event_hash"])).hex(),
            "event": copy.deepcopy(event),
        }
        for index, event in enumerate(events)
    ]


def sign(lines: list[Line], private_key: Ed25519PrivateKey, timestamp: int = HEAD_TIMESTAMP_MS) -> TreeHead:
    """A tree head over every leaf of ``lines``."""
    leaves = [bytes.fromhex(line["leaf_hash"]) for line in lines if line["leaf_index"] is not None]
    return sign_tree_head(private_key, len(leaves), root(leaves), timestamp)


def make_audit_log(count: int = 12, private_key: Ed25519PrivateKey | None = None) -> AuditLog:
    """A consistent export of ``count`` events over three streams and its signed tree head."""
    key = private_key or Ed25519PrivateKey.generate()
    lines = export_of(make_events(count))
    return AuditLog(lines, sign(lines, key), key)


def partial_export(log: AuditLog, start: int, end: int) -> AuditLog:
    """The export of leaves ``[start, end)`` of ``log``'s tree, as the audit API makes it: the range line with the
    nodes outside the range, then the range's lines, each stream's first carrying the link its chain resumes from.
    The same head and key; the lines are copies."""
    leaves = log.leaf_hashes()
    source = InMemoryNodeSource(leaves)
    nodes = [
        {"start": lo, "end": hi, "hash": source.subtree_hash(lo, hi).hex()}
        for lo, hi in range_nodes(len(leaves), start, end)
    ]
    first, last = log.line_of_leaf(start), log.line_of_leaf(end - 1)
    inside = copy.deepcopy(log.lines[log.lines.index(first) : log.lines.index(last) + 1])
    before: dict[str, Line] = {}
    for line in log.lines[: log.lines.index(first)]:
        if line["event"] is not None:
            before[line["event"]["stream_id"]] = line["event"]
    seen: set[str] = set()
    for line in inside:
        stream = None if line["event"] is None else line["event"]["stream_id"]
        if stream is not None and stream not in seen:
            seen.add(stream)
            if stream in before:
                link = before[stream]
                line["chain_previous"] = {"stream_version": link["stream_version"], "event_hash": link["event_hash"]}
    opening = {"range": {"tree_size": len(leaves), "from_leaf": start, "to_leaf": end, "nodes": nodes}}
    return AuditLog([opening, *inside], log.head, log.private_key)


# ---------------------------------------------------------------- what a superuser might do to the event table


def swap_rows(log: AuditLog, first_leaf: int, second_leaf: int) -> None:
    """The rows of two leaves exchange positions: each leaf's line now shows the other row."""
    first, second = log.line_of_leaf(first_leaf), log.line_of_leaf(second_leaf)
    a, b = first["event"], second["event"]
    first["event"] = {**b, "position": a["position"]}
    second["event"] = {**a, "position": b["position"]}


def insert_row(log: AuditLog, after_leaf: int, stream_id: str = "account-9999") -> int:
    """A new row (its own valid-looking hash, no leaf) just after the leaf's position; returns its position."""
    after = log.line_of_leaf(after_leaf)
    event = {
        **after["event"],
        "position": after["position"] + 1,
        "stream_id": stream_id,
        "stream_version": 1,
        "event_id": str(uuid.UUID(int=999_999)),
        "payload": {"amount": "1000000.00", "currency": "EUR"},
    }
    event = rehash([event])[0]
    log.lines.insert(
        log.lines.index(after) + 1,
        {"leaf_index": None, "position": event["position"], "leaf_hash": None, "event": event},
    )
    return int(event["position"])


def delete_row(log: AuditLog, leaf: int) -> None:
    """The row of a notarized leaf is deleted."""
    log.line_of_leaf(leaf)["event"] = None


def edit_payload(log: AuditLog, leaf: int) -> None:
    """One row's payload is changed in place, its stated event hash left as it was."""
    log.line_of_leaf(leaf)["event"]["payload"]["amount"] = "999999.00"


def rewrite_past(log: AuditLog, leaf: int) -> AuditLog:
    """The past rewritten consistently: one old event edited, every hash, leaf and the tree head made anew."""
    events = [line["event"] for line in log.lines if line["leaf_index"] is not None]
    events[leaf]["payload"]["amount"] = "0.01"
    lines = export_of(rehash(events))
    return AuditLog(lines, sign(lines, log.private_key, log.head.timestamp + 1000), log.private_key)


def verify_offline(
    folder: Path, export: str, head: dict[str, Any], public_key_pem: str
) -> subprocess.CompletedProcess[str]:
    """Run the standalone verifier (``python -m eventledger_events.audit verify``) as an auditor would, on files."""
    (folder / "log.jsonl").write_text(export)
    (folder / "head.json").write_text(json.dumps(head))
    (folder / "key.pem").write_text(public_key_pem)
    command = [sys.executable, "-m", "eventledger_events.audit", "verify"]
    command += ["--export", str(folder / "log.jsonl"), "--tree-head", str(folder / "head.json")]
    command += ["--public-key", str(folder / "key.pem")]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
