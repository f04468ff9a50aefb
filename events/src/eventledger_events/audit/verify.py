"""The offline verifier: an export of the log, checked against a signed tree head without any database.

The export (the audit API's answer; JSON lines, one object per line, in leaf order)::

    {"leaf_index": int, "position": int, "leaf_hash": hex, "event": {...} or null}

for each leaf, where ``event`` is the row the event store holds now::

    {"position", "stream_id", "stream_version", "event_id", "event_type", "schema_version",
     "occurred_at" and "recorded_at" (ISO 8601 with microseconds and offset), "actor", "correlation_id",
     "causation_id" (or null), "payload" (object), "event_hash": hex}

and ``null`` when the row of a notarized leaf is gone. A row without a leaf appears, placed by position, as
``{"leaf_index": null, "leaf_hash": null, "position": ..., "event": {...}}``.

A previous tree head is linked to the current one by a consistency proof, in the JSON form (the field names of RFC
9162's ``ConsistencyProofDataV2``)::

    {"tree_size_1": int, "tree_size_2": int, "consistency_path": [hex, ...]}

The checks, in this order, stopping at the first problem: the signatures of the tree heads; then each line in leaf
order (a notarized leaf without its row is ``missing``; a row whose stated event hash is another leaf's, or whose
position breaks the leaf order, is ``reordered``; a row whose stated hash is no leaf's, or whose hash recomputed from
its content, position, recorded_at and its stream's chain differs from the stated one, is ``altered``; a stream
version gap is ``missing`` and a repeated version ``inserted``; a row without a leaf inside the tree's range is
``inserted``); then the root of the leaves against the signed root (``tree head mismatch``); then the previous tree
head against the consistency proof and the export's first leaves (``inconsistent``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .hashing import GENESIS_HASH, event_hash, exported_content_digest, parse_timestamp, to_micros
from .merkle import leaf_hash, root, verify_consistency
from .tree_head import TreeHead, verify_tree_head

ALTERED = "altered"
MISSING = "missing"
INSERTED = "inserted"
REORDERED = "reordered"
TREE_HEAD_MISMATCH = "tree head mismatch"
BAD_SIGNATURE = "bad signature"
INCONSISTENT = "inconsistent"

_EVENT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "position": int,
    "stream_id": str,
    "stream_version": int,
    "event_id": str,
    "event_type": str,
    "schema_version": int,
    "occurred_at": str,
    "recorded_at": str,
    "actor": str,
    "correlation_id": str,
    "causation_id": (str, type(None)),
    "event_hash": str,
}


class UnusableInput(ValueError):
    """The input cannot be checked at all (not JSON, not the export's form, not a full export)."""


@dataclass(frozen=True)
class ExportLine:
    leaf_index: int | None
    position: int
    leaf_hash: bytes | None
    event: dict[str, Any] | None


@dataclass(frozen=True)
class ConsistencyProof:
    tree_size_1: int
    tree_size_2: int
    consistency_path: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size_1": self.tree_size_1,
            "tree_size_2": self.tree_size_2,
            "consistency_path": [node.hex() for node in self.consistency_path],
        }


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    leaf_index: int | None = None
    position: int | None = None
    stream_id: str | None = None
    stream_version: int | None = None

    def describe(self) -> str:
        if self.position is None:
            return f"{self.kind}: {self.detail}"
        where = f"event at position {self.position}"
        if self.stream_id is not None:
            where += f" (stream {self.stream_id}, version {self.stream_version}"
            where += f", leaf {self.leaf_index})" if self.leaf_index is not None else ", no leaf)"
        elif self.leaf_index is not None:
            where += f" (leaf {self.leaf_index})"
        return f"{self.kind}: {where}: {self.detail}"


@dataclass(frozen=True)
class Verdict:
    problem: Problem | None
    events: int
    tree_size: int
    root_hash: bytes

    @property
    def intact(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.problem is not None:
            return self.problem.describe()
        return f"intact: {self.events} events, tree size {self.tree_size}, root {self.root_hash.hex()}"


def parse_export(lines: Iterable[str]) -> list[ExportLine]:
    """The export's lines (blank lines skipped); :class:`UnusableInput` names the first line that is not of its form."""
    parsed: list[ExportLine] = []
    for number, text in enumerate(lines, start=1):
        if text.strip():
            try:
                parsed.append(parse_export_line(json.loads(text)))
            except (ValueError, TypeError, KeyError, RecursionError) as error:
                raise UnusableInput(f"export line {number}: {_reason(error)}") from error
    return parsed


def parse_export_line(data: Any) -> ExportLine:
    """One export line from its decoded JSON; ``ValueError`` or ``TypeError`` if it is not of the export's form."""
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    index, position, hashed, event = data["leaf_index"], data["position"], data["leaf_hash"], data["event"]
    if (index is None) != (hashed is None):
        raise ValueError("leaf_index and leaf_hash must both be null or both be set")
    if index is not None and (not _is_int(index) or index < 0):
        raise TypeError("leaf_index is not a non-negative integer")
    if not _is_int(position) or not -(2**63) <= position < 2**63:
        raise TypeError("position is not a 64-bit integer")
    if event is None and index is None:
        raise ValueError("a line with neither leaf nor event")
    if event is not None:
        _check_event(event)
    return ExportLine(index, position, None if hashed is None else _hash(hashed, "leaf_hash"), event)


def parse_consistency_proof(value: str | bytes | Mapping[str, Any]) -> ConsistencyProof:
    """A :class:`ConsistencyProof` from its JSON; :class:`UnusableInput` if it is not one."""
    try:
        data = json.loads(value) if isinstance(value, str | bytes) else value
        if not isinstance(data, Mapping):
            raise TypeError("not a JSON object")
        first, second, path = data["tree_size_1"], data["tree_size_2"], data["consistency_path"]
        if not (_is_int(first) and _is_int(second) and isinstance(path, list)):
            raise TypeError("tree_size_1, tree_size_2 must be integers and consistency_path a list")
        return ConsistencyProof(first, second, [_hash(node, "consistency_path") for node in path])
    except (ValueError, TypeError, KeyError) as error:
        raise UnusableInput(f"consistency proof: {_reason(error)}") from error


def verify_export(
    lines: Sequence[ExportLine],
    head: TreeHead,
    public_key: Ed25519PublicKey | bytes | str,
    *,
    previous_head: TreeHead | None = None,
    consistency: ConsistencyProof | None = None,
) -> Verdict:
    """Check a full export (leaves ``0 .. head.tree_size - 1``) against ``head``; the first problem, or intact.

    Raises :class:`UnusableInput` when the export's leaves do not start at 0 or are not consecutive.
    """
    events, problem = _first_problem(lines, head, public_key, previous_head, consistency)
    return Verdict(problem, events, head.tree_size, head.root_hash)


def _first_problem(
    lines: Sequence[ExportLine],
    head: TreeHead,
    public_key: Ed25519PublicKey | bytes | str,
    previous_head: TreeHead | None,
    consistency: ConsistencyProof | None,
) -> tuple[int, Problem | None]:
    """How many events passed the walk, and the first problem."""
    if not verify_tree_head(head, public_key):
        return 0, Problem(BAD_SIGNATURE, "the tree head is not signed by this key")
    if previous_head is not None and not verify_tree_head(previous_head, public_key):
        return 0, Problem(BAD_SIGNATURE, "the previous tree head is not signed by this key")
    leaves = _leaves_of(lines, head.tree_size)
    if len(leaves) < head.tree_size:
        return 0, Problem(
            TREE_HEAD_MISMATCH, f"the export holds {len(leaves)} leaves, the tree head signs {head.tree_size}"
        )
    walk = _Walk(leaves)
    for line in lines:
        in_tree = line.leaf_index is None or line.leaf_index < head.tree_size
        if in_tree and (problem := walk.check(line)) is not None:
            return walk.events, problem
    leaf_hashes = [line.leaf_hash for line in leaves if line.leaf_hash is not None]
    computed = root(leaf_hashes)
    if computed != head.root_hash:
        detail = (
            f"the {head.tree_size} leaves give the root {computed.hex()}, the tree head signs {head.root_hash.hex()}"
        )
        return walk.events, Problem(TREE_HEAD_MISMATCH, detail)
    previous = None if previous_head is None else _check_previous(previous_head, head, leaf_hashes, consistency)
    return walk.events, previous


class _Walk:
    """The per-line checks in leaf order, keeping each stream's chain (last event hash and version)."""

    def __init__(self, leaves: Sequence[ExportLine]) -> None:
        self._owner = {line.leaf_hash: line.leaf_index for line in leaves}
        self._last_position = leaves[-1].position if leaves else None
        self._previous_position: int | None = None
        self._chains: dict[str, tuple[bytes, int]] = {}
        self.events = 0

    def check(self, line: ExportLine) -> Problem | None:
        if line.leaf_index is None:
            return self._check_unnotarized(line)
        if (problem := self._check_place(line)) is not None or line.event is None:
            return problem
        event = line.event
        stated = bytes.fromhex(event["event_hash"])
        if leaf_hash(stated) != line.leaf_hash:
            owner = self._owner.get(leaf_hash(stated))
            if owner is not None:
                return _problem(REORDERED, line, f"its event hash is notarized at leaf {owner}")
            return _problem(ALTERED, line, "its event hash is not the notarized one")
        return self._check_chain(line, event, stated)

    def _check_place(self, line: ExportLine) -> Problem | None:
        if self._previous_position is not None and line.position <= self._previous_position:
            return _problem(REORDERED, line, f"its position does not follow {self._previous_position} in leaf order")
        self._previous_position = line.position
        if line.event is None:
            return Problem(MISSING, "the notarized event's row is gone", line.leaf_index, line.position)
        if line.event["position"] != line.position:
            return _problem(REORDERED, line, f"the row of this leaf stands at position {line.event['position']}")
        return None

    def _check_chain(self, line: ExportLine, event: dict[str, Any], stated: bytes) -> Problem | None:
        stream, version = event["stream_id"], event["stream_version"]
        previous, last_version = self._chains.get(stream, (GENESIS_HASH, 0))
        try:
            digest = exported_content_digest(event)
            recorded = to_micros(parse_timestamp(event["recorded_at"]))
        except (ValueError, TypeError) as error:
            return _problem(ALTERED, line, f"its content is not of the event's form ({_reason(error)})")
        recomputed = event_hash(digest, event["position"], recorded, previous)
        if version > last_version + 1:
            return _problem(MISSING, line, f"stream {stream} goes from version {last_version} to {version}")
        if version <= last_version:
            return _problem(INSERTED, line, f"stream {stream} already has version {version}")
        if recomputed != stated:
            return _problem(ALTERED, line, "its content does not give its event hash")
        self._chains[stream] = (recomputed, version)
        self.events += 1
        return None

    def _check_unnotarized(self, line: ExportLine) -> Problem | None:
        if self._last_position is not None and line.position < self._last_position:
            return _problem(INSERTED, line, "a row without a leaf inside the notarized range")
        return None


def _check_previous(
    previous: TreeHead, head: TreeHead, leaf_hashes: Sequence[bytes], consistency: ConsistencyProof | None
) -> Problem | None:
    sizes = f"from size {previous.tree_size} to {head.tree_size}"
    if previous.tree_size > head.tree_size:
        return Problem(INCONSISTENT, f"the previous tree head is larger ({sizes})")
    if consistency is not None:
        if (consistency.tree_size_1, consistency.tree_size_2) != (previous.tree_size, head.tree_size):
            raise UnusableInput(
                f"the consistency proof is from size {consistency.tree_size_1} to {consistency.tree_size_2}, "
                f"the tree heads are {sizes}"
            )
        path = consistency.consistency_path
        if not verify_consistency(previous.tree_size, head.tree_size, path, previous.root_hash, head.root_hash):
            return Problem(INCONSISTENT, f"the consistency proof does not link the previous tree head ({sizes})")
    if root(leaf_hashes[: previous.tree_size]) != previous.root_hash:
        detail = f"the first {previous.tree_size} leaves do not give the previous tree head's root: the past changed"
        return Problem(INCONSISTENT, detail)
    return None


def _leaves_of(lines: Sequence[ExportLine], tree_size: int) -> list[ExportLine]:
    leaves = [line for line in lines if line.leaf_index is not None]
    for expected, line in enumerate(leaves):
        if line.leaf_index != expected:
            raise UnusableInput(
                f"the export's leaves must be 0, 1, 2, ... in order (a full export): leaf {line.leaf_index} "
                f"where leaf {expected} belongs"
            )
    return leaves[:tree_size]


def _problem(kind: str, line: ExportLine, detail: str) -> Problem:
    event = line.event or {}
    return Problem(kind, detail, line.leaf_index, line.position, event.get("stream_id"), event.get("stream_version"))


def _check_event(event: Any) -> None:
    if not isinstance(event, dict):
        raise TypeError("event is not an object or null")
    for name, kind in _EVENT_FIELDS.items():
        value = event[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TypeError(f"event.{name} is not of the export's form")
    if not -(2**63) <= event["position"] < 2**63:
        raise ValueError("event.position is not a 64-bit integer")
    if "payload" not in event:
        raise KeyError("payload")
    _hash(event["event_hash"], "event.event_hash")


def _hash(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{name} is not a hex string")
    try:
        decoded = bytes.fromhex(value)
    except ValueError as error:
        raise ValueError(f"{name} is not hex") from error
    if len(decoded) != 32:
        raise ValueError(f"{name} is not 32 bytes")
    return decoded


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reason(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing {error.args[0]}"
    return str(error) or type(error).__name__


__all__ = [
    "ALTERED",
    "BAD_SIGNATURE",
    "INCONSISTENT",
    "INSERTED",
    "MISSING",
    "REORDERED",
    "TREE_HEAD_MISMATCH",
    "ConsistencyProof",
    "ExportLine",
    "Problem",
    "UnusableInput",
    "Verdict",
    "parse_consistency_proof",
    "parse_export",
    "parse_export_line",
    "verify_export",
]
