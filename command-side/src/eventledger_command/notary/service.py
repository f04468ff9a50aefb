"""What the audit API answers about the verifiable log: tree heads, proofs, the export, a check (ADR 0025).

Contract of :class:`VerifiableLog`:
- :meth:`inclusion` proves the event at ``position`` is leaf ``i`` of the tree of ``tree_size`` leaves (RFC 9162
  §2.1.3); :meth:`consistency` proves the tree of ``first`` leaves is a prefix of the tree of ``second`` (§2.1.4);
  both refuse sizes beyond the tree (:class:`NotInTree`);
- :meth:`export` streams the export format of ``eventledger_events.audit.verify`` for leaves ``[start, end)`` of the
  tree of ``tree_size`` leaves: each notarized leaf with the event row the store holds NOW (``null`` when the row is
  gone), and the rows without a leaf between them — the bytes an auditor verifies offline. A range that is not the
  whole tree is a partial export: it opens with the range line (the hashes of the nodes outside it) and each stream's
  first line there carries the chain link it resumes from (``chain_previous``), read from the store;
- :meth:`check` runs that same verifier here, over the same export, against the latest head.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from eventledger_command.notary.notary import TreeHeads
from eventledger_command.notary.tree import PostgresMerkleTree
from eventledger_events.audit.hashing import format_timestamp
from eventledger_events.audit.merkle import consistency_proof, inclusion_proof, range_nodes
from eventledger_events.audit.tree_head import TreeHead
from eventledger_events.audit.verify import Verdict, parse_export, verify_export

EXPORT_BATCH = 2000

# The rows without a leaf are taken up to the next batch's first leaf, so that none between two batches is left out.
_EXPORT = """
WITH leaves AS (
    SELECT leaf_index, position, leaf_hash FROM log_leaves
    WHERE leaf_index >= %(start)s AND leaf_index < %(end)s
), bounds AS (
    SELECT min(position) AS low,
           coalesce((SELECT position - 1 FROM log_leaves WHERE leaf_index = %(end)s AND %(end)s < %(last)s),
                    max(position)) AS high
    FROM leaves
)
SELECT l.leaf_index, coalesce(l.position, e.position) AS at, l.leaf_hash, e.position, e.stream_id, e.stream_version,
       e.event_id, e.event_type, e.schema_version, e.occurred_at, e.recorded_at, e.actor, e.correlation_id,
       e.causation_id, e.payload, e.event_hash
FROM leaves l
FULL OUTER JOIN (SELECT events.* FROM events, bounds WHERE events.position BETWEEN bounds.low AND bounds.high) e
    ON e.position = l.position
ORDER BY at, l.leaf_index NULLS LAST
"""


_CHAIN_LINKS = """
SELECT DISTINCT ON (stream_id) stream_id, stream_version, event_hash FROM events
WHERE stream_id = ANY(%(streams)s) AND position < %(before)s
ORDER BY stream_id, stream_version DESC
"""


class NotInTree(ValueError):
    """A size or position the tree does not hold (yet)."""


class VerifiableLog:
    def __init__(self, dsn: str, heads_for: Any) -> None:
        """``heads_for(tree)`` makes the :class:`TreeHeads` that signs on demand (the key comes from settings)."""
        self._pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True, kwargs={"autocommit": True})
        self.tree = PostgresMerkleTree(self._pool)
        self._heads: TreeHeads = heads_for(self.tree)

    def close(self) -> None:
        self._pool.close()

    @property
    def public_key(self) -> bytes:
        return self._heads.public_key

    def latest_head(self) -> TreeHead | None:
        return self.tree.head()

    def sign_now(self) -> TreeHead:
        return self._heads.sign()

    def inclusion(self, position: int, tree_size: int) -> dict[str, Any]:
        size, _ = self.tree.end()
        if not 1 <= tree_size <= size:
            raise NotInTree(f"the tree has {size} leaves; tree_size must be between 1 and that")
        leaf = self.tree.leaf_of(position)
        if leaf is None or leaf.index >= tree_size:
            raise NotInTree(f"no event at position {position} is a leaf of the tree of {tree_size} leaves")
        nodes = self.tree.at(tree_size)
        return {
            "position": position,
            "leaf_index": leaf.index,
            "tree_size": tree_size,
            "leaf_hash": leaf.hash.hex(),
            "inclusion_path": [h.hex() for h in inclusion_proof(nodes, leaf.index, tree_size)],
            "root_hash": nodes.root().hex(),
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        size, _ = self.tree.end()
        if not 1 <= first <= second <= size:
            raise NotInTree(f"the tree has {size} leaves; need 1 <= first <= second <= {size}")
        nodes = self.tree.at(second)
        return {
            "tree_size_1": first,
            "tree_size_2": second,
            "consistency_path": [h.hex() for h in consistency_proof(nodes, first, second)],
            "first_root_hash": self.tree.at(first).root().hex(),
            "second_root_hash": nodes.root().hex(),
        }

    def export(self, start: int, end: int, tree_size: int | None = None) -> Iterator[str]:
        """JSON lines for leaves ``[start, end)`` of the tree of ``tree_size`` leaves (default: all the tree holds;
        see the module contract), each ending with a newline; :class:`NotInTree` for a range the tree lacks."""
        size, _ = self.tree.end()
        tree_size = size if tree_size is None else tree_size
        if not 0 <= start <= end <= tree_size <= size:
            raise NotInTree(f"the tree has {size} leaves; need 0 <= from_leaf <= to_leaf <= tree_size <= {size}")
        if start == end:
            return iter(())
        return self._export(start, end, tree_size)

    def _export(self, start: int, end: int, tree_size: int) -> Iterator[str]:
        partial = (start, end) != (0, tree_size)
        if partial:
            nodes = self.tree.at(tree_size)
            hashes = [
                {"start": lo, "end": hi, "hash": nodes.subtree_hash(lo, hi).hex()}
                for lo, hi in range_nodes(tree_size, start, end)
            ]
            yield _json({"range": {"tree_size": tree_size, "from_leaf": start, "to_leaf": end, "nodes": hashes}})
        seen: set[str] = set()
        with self._pool.connection() as conn:
            before = self._position_of_leaf(conn, start)
            for first in range(start, end, EXPORT_BATCH):
                rows = self._rows(conn, first, min(first + EXPORT_BATCH, end), end)
                links = self._chain_links(conn, rows, seen, before) if partial else {}
                for row in rows:
                    line = _line(row)
                    if (link := links.pop(row["position"], None)) is not None:
                        line["chain_previous"] = link
                    yield _json(line)

    @staticmethod
    def _rows(conn: psycopg.Connection[Any], start: int, end: int, last: int) -> list[dict[str, Any]]:
        with conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(_EXPORT, {"start": start, "end": end, "last": last})
            return cursor.fetchall()

    @staticmethod
    def _position_of_leaf(conn: psycopg.Connection[Any], index: int) -> int:
        row = conn.execute("SELECT position FROM log_leaves WHERE leaf_index = %s", (index,)).fetchone()
        if row is None:
            raise NotInTree(f"no leaf {index}")
        return int(row[0])

    @staticmethod
    def _chain_links(
        conn: psycopg.Connection[Any], rows: list[dict[str, Any]], seen: set[str], before: int
    ) -> dict[int, dict[str, Any]]:
        """For each stream first met in ``rows``: the position of its first row there, and the version and hash of
        its last event before the range (the link its chain resumes from), when it has one."""
        first_rows: dict[str, int] = {}
        for row in rows:
            stream = row["stream_id"]
            if stream is not None and stream not in seen:
                seen.add(stream)
                first_rows[stream] = row["position"]
        if not first_rows:
            return {}
        found = conn.execute(_CHAIN_LINKS, {"streams": list(first_rows), "before": before}).fetchall()
        return {
            first_rows[stream]: {"stream_version": version, "event_hash": bytes(hashed).hex()}
            for stream, version, hashed in found
        }

    def check(self) -> tuple[TreeHead | None, Verdict | None]:
        """The server-side check of the whole log against the latest head (the verifier of the offline tool)."""
        head = self.latest_head()
        if head is None:
            return None, None
        lines = parse_export(self.export(0, head.tree_size, head.tree_size))
        return head, verify_export(lines, head, self.public_key)


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"


def _line(row: dict[str, Any]) -> dict[str, Any]:
    event = None
    if row["position"] is not None:
        event = {
            "position": row["position"],
            "stream_id": row["stream_id"],
            "stream_version": row["stream_version"],
            "event_id": str(row["event_id"]),
            "event_type": row["event_type"],
            "schema_version": row["schema_version"],
            "occurred_at": format_timestamp(row["occurred_at"]),
            "recorded_at": format_timestamp(row["recorded_at"]),
            "actor": row["actor"],
            "correlation_id": str(row["correlation_id"]),
            "causation_id": None if row["causation_id"] is None else str(row["causation_id"]),
            "payload": row["payload"],
            "event_hash": None if row["event_hash"] is None else bytes(row["event_hash"]).hex(),
        }
    return {
        "leaf_index": row["leaf_index"],
        "position": row["at"],
        "leaf_hash": None if row["leaf_hash"] is None else bytes(row["leaf_hash"]).hex(),
        "event": event,
    }
