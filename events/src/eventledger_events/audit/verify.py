"""The offline verifier: an export of the log, checked against a signed tree head without any database.

The export (the audit API's answer; JSON lines, one object per line, in leaf order)::

    {"leaf_index": int, "position": int, "leaf_hash": hex, "event": {...} or null}

for each leaf, where ``event`` is the row the event store holds now::

    {"position", "stream_id", "stream_version", "event_id", "event_type", "schema_version",
     "occurred_at" and "recorded_at" (ISO 8601 with microseconds and offset), "actor", "correlation_id",
     "causation_id" (or null), "payload" (object), "event_hash": hex}

and ``null`` when the row of a notarized leaf is gone. A row without a leaf appears, placed by position, as
``{"leaf_index": null, "leaf_hash": null, "position": ..., "event": {...}}``.

A partial export (leaves ``[from_leaf, to_leaf)`` of the tree a head signs, not all of them) opens with one line
that names the range and carries the hashes of the tree's nodes outside it (:func:`.merkle.range_nodes`), so that
the root can be recomputed from the range's leaves::

    {"range": {"tree_size": int, "from_leaf": int, "to_leaf": int,
               "nodes": [{"start": int, "end": int, "hash": hex}, ...]}}

and the first line of each stream that has events before the range carries the hash and version of the last of
them, ``"chain_previous": {"stream_version": int, "event_hash": hex}``, where that stream's chain resumes. Neither
needs to be trusted: a wrong node gives another root, and a wrong chain link another event hash than the notarized
one. A full export carries neither (a ``chain_previous`` there is ignored).

A previous tree head is linked to the current one by a consistency proof, in the JSON form (the field names of RFC
9162's ``ConsistencyProofDataV2``)::

    {"tree_size_1": int, "tree_size_2": int, "consistency_path": [hex, ...]}

The checks, in this order, stopping at the first problem: the signatures of the tree heads; then each line in leaf
order (a notarized leaf without its row is ``missing``; a row whose stated event hash is another leaf's, or whose
position breaks the leaf order, is ``reordered``; a row whose stated hash is no leaf's, or whose hash recomputed from
its content, position, recorded_at and its stream's chain differs from the stated one, is ``altered``; a stream
version gap is ``missing`` and a repeated version ``inserted``; a row without a leaf inside the tree's range is
``inserted``); then the root of the leaves against the signed root (``tree head mismatch``); then the previous tree
head against the consistency proof and, for a full export, the export's first leaves (``inconsistent``; a partial
export needs the proof).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .hashing import GENESIS_HASH, event_hash, exported_content_digest, parse_timestamp, to_micros
from .merkle import leaf_hash, root, root_of_range, verify_consistency
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
    """The input cannot be checked at all (not JSON, not the export's form, leaves out of order or not the range of
    the tree head)."""


@dataclass(frozen=True)
class ExportLine:
    leaf_index: int | None
    position: int
    leaf_hash: bytes | None
    event: dict[str, Any] | None
    chain_previous: tuple[int, bytes] | None = None
    """In a partial export: the stream version and event hash its chain resumes from (see the module docstring)."""


@dataclass(frozen=True)
class ExportRange:
    """The opening line of a partial export: leaves ``[from_leaf, to_leaf)`` of the tree of ``tree_size`` leaves,
    and the hashes of the nodes outside that range, keyed by ``(start, end)``."""

    tree_size: int
    from_leaf: int
    to_leaf: int
    nodes: dict[tuple[int, int], bytes]


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


def parse_export(lines: Iterable[str]) -> list[ExportLine | ExportRange]:
    """The export's lines (blank lines skipped), a partial export's range first; :class:`UnusableInput` names the
    first line that is not of its form."""
    parsed: list[ExportLine | ExportRange] = []
    for number, text in enumerate(lines, start=1):
        if text.strip():
            try:
                data = json.loads(text)
                if isinstance(data, dict) and "range" in data:
                    if parsed:
                        raise ValueError("the range line must come first")
                    parsed.append(parse_export_range(data["range"]))
                else:
                    parsed.append(parse_export_line(data))
            except (ValueError, TypeError, KeyError, RecursionError) as error:
                raise UnusableInput(f"export line {number}: {_reason(error)}") from error
    return parsed


def parse_export_range(data: Any) -> ExportRange:
    """A partial export's range from its decoded JSON; ``ValueError`` or ``TypeError`` if it is not of its form."""
    if not isinstance(data, dict):
        raise TypeError("range is not a JSON object")
    size, first, end, nodes = data["tree_size"], data["from_leaf"], data["to_leaf"], data["nodes"]
    if not (_is_int(size) and _is_int(first) and _is_int(end) and 0 <= first < end <= size):
        raise ValueError("range needs integers 0 <= from_leaf < to_leaf <= tree_size")
    if not isinstance(nodes, list):
        raise TypeError("range.nodes is not a list")
    hashes: dict[tuple[int, int], bytes] = {}
    for node in nodes:
        if not isinstance(node, dict) or not _is_int(node["start"]) or not _is_int(node["end"]):
            raise TypeError("a range node is not {start, end, hash}")
        hashes[(node["start"], node["end"])] = _hash(node["hash"], "range.nodes.hash")
    return ExportRange(size, first, end, hashes)


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
    previous = data.get("chain_previous")
    seed = None
    if previous is not None:
        if not isinstance(previous, dict) or not _is_int(previous["stream_version"]):
            raise TypeError("chain_previous is not {stream_version, event_hash}")
        seed = (previous["stream_version"], _hash(previous["event_hash"], "chain_previous.event_hash"))
    return ExportLine(index, position, None if hashed is None else _hash(hashed, "leaf_hash"), event, seed)


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
    lines: Sequence[ExportLine | ExportRange],
    head: TreeHead,
    public_key: Ed25519PublicKey | bytes | str,
    *,
    previous_head: TreeHead | None = None,
    consistency: ConsistencyProof | None = None,
) -> Verdict:
    """Check an export against ``head``: a full one (leaves ``0 .. head.tree_size - 1``) or a partial one (its range
    line first); the first problem, or intact.

    Raises :class:`UnusableInput` when the leaves are not the consecutive leaves of the tree or of the range, when a
    partial export is for another tree size than the head's or lacks a node, and when a partial export is to be
    linked to a previous head without a consistency proof.
    """
    events, problem = _first_problem(lines, head, public_key, previous_head, consistency)
    return Verdict(problem, events, head.tree_size, head.root_hash)


def _first_problem(
    lines: Sequence[ExportLine | ExportRange],
    head: TreeHead,
    public_key: Ed25519PublicKey | bytes | str,
    previous_head: TreeHead | None,
    consistency: ConsistencyProof | None,
) -> tuple[int, Problem | None]:
    """How many events passed the walk, and the first problem."""
    if (unsigned := _unsigned(head, previous_head, public_key)) is not None:
        return 0, unsigned
    part, rows = _split_range(lines, head)
    first, end = (0, head.tree_size) if part is None else (part.from_leaf, part.to_leaf)
    leaves = _leaves_of(rows, first, end)
    if len(leaves) < end - first:
        expected = f"the tree head signs {head.tree_size}" if part is None else f"the range holds {end - first}"
        return 0, Problem(TREE_HEAD_MISMATCH, f"the export holds {len(leaves)} leaves, {expected}")
    walk = _Walk(leaves, resumes=part is not None)
    for line in rows:
        in_tree = line.leaf_index is None or line.leaf_index < end
        if in_tree and (problem := walk.check(line)) is not None:
            return walk.events, problem
    leaf_hashes = [line.leaf_hash for line in leaves if line.leaf_hash is not None]
    computed = _root(leaf_hashes, part)
    if computed != head.root_hash:
        what = f"the {head.tree_size} leaves" if part is None else f"the leaves [{first}, {end}) and the nodes"
        detail = f"{what} give the root {computed.hex()}, the tree head signs {head.root_hash.hex()}"
        return walk.events, Problem(TREE_HEAD_MISMATCH, detail)
    if previous_head is None:
        return walk.events, None
    if part is not None and consistency is None:
        raise UnusableInput("a partial export is linked to a previous tree head by a consistency proof only")
    return walk.events, _check_previous(previous_head, head, None if part else leaf_hashes, consistency)


def _unsigned(
    head: TreeHead, previous_head: TreeHead | None, public_key: Ed25519PublicKey | bytes | str
) -> Problem | None:
    if not verify_tree_head(head, public_key):
        return Problem(BAD_SIGNATURE, "the tree head is not signed by this key")
    if previous_head is not None and not verify_tree_head(previous_head, public_key):
        return Problem(BAD_SIGNATURE, "the previous tree head is not signed by this key")
    return None


def _split_range(
    lines: Sequence[ExportLine | ExportRange], head: TreeHead
) -> tuple[ExportRange | None, list[ExportLine]]:
    """A partial export's range (None for a full export) and the lines of leaves and rows."""
    part = lines[0] if lines and isinstance(lines[0], ExportRange) else None
    rows = [line for line in lines if isinstance(line, ExportLine)]
    if len(rows) + (part is not None) != len(lines):
        raise UnusableInput("the range line must come first, and only once")
    if part is not None and part.tree_size != head.tree_size:
        raise UnusableInput(
            f"the export is a range of the tree of {part.tree_size} leaves, the tree head signs {head.tree_size}"
        )
    return part, rows


def _root(leaf_hashes: Sequence[bytes], part: ExportRange | None) -> bytes:
    if part is None:
        return root(leaf_hashes)
    try:
        return root_of_range(part.tree_size, part.from_leaf, leaf_hashes, part.nodes)
    except ValueError as error:
        raise UnusableInput(f"the partial export cannot give a root: {error}") from error


class _Walk:
    """The per-line checks in leaf order, keeping each stream's chain (last event hash and version)."""

    def __init__(self, leaves: Sequence[ExportLine], *, resumes: bool = False) -> None:
        """``resumes``: a partial export, whose streams' chains may resume from a line's ``chain_previous``."""
        self._resumes = resumes
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
        start = (GENESIS_HASH, 0)
        if self._resumes and line.chain_previous is not None:
            start = (line.chain_previous[1], line.chain_previous[0])
        previous, last_version = self._chains.get(stream, start)
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
    previous: TreeHead, head: TreeHead, leaf_hashes: Sequence[bytes] | None, consistency: ConsistencyProof | None
) -> Problem | None:
    """The previous head against the proof, and against the first leaves when the export holds them all."""
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
    if leaf_hashes is not None and root(leaf_hashes[: previous.tree_size]) != previous.root_hash:
        detail = f"the first {previous.tree_size} leaves do not give the previous tree head's root: the past changed"
        return Problem(INCONSISTENT, detail)
    return None


def _leaves_of(lines: Sequence[ExportLine], first: int, end: int) -> list[ExportLine]:
    leaves = [line for line in lines if line.leaf_index is not None]
    for expected, line in enumerate(leaves, start=first):
        if line.leaf_index != expected:
            raise UnusableInput(
                f"the export's leaves must be {first}, {first + 1}, {first + 2}, ... in order: leaf "
                f"{line.leaf_index} where leaf {expected} belongs"
            )
    return leaves[: end - first]


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
    "ExportRange",
    "Problem",
    "UnusableInput",
    "Verdict",
    "parse_consistency_proof",
    "parse_export",
    "parse_export_line",
    "parse_export_range",
    "verify_export",
]
