"""The Merkle tree of the global log in PostgreSQL (tables of eventstore/sql/007): leaves, the hashes of every
complete perfect subtree, and the signed tree heads (ADR 0025; the formats are ``eventledger_events.audit``).

Contract of :class:`PostgresMerkleTree`:
- :meth:`grow` adds the leaves for the given events after the last one, in one transaction under a transaction-level
  advisory lock, with every perfect subtree they complete; it refuses (``TreeMoved``) when another notary grew the
  tree meanwhile, so a leaf is never added twice or out of order, whichever process runs a notary;
- :meth:`at` answers a :class:`~eventledger_events.audit.merkle.NodeSource` for any size up to the tree's: every
  subtree hash the proofs need comes from at most ``log2(size)`` stored perfect subtrees;
- the tables are append-only (triggers): a proof, once given, never changes.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from eventledger_events.audit.merkle import fold_perfect_subtrees, leaf_hash, node_hash, perfect_subtrees
from eventledger_events.audit.tree_head import TreeHead

_GROW_LOCK = zlib.crc32(b"eventledger-notary-grow")


class TreeMoved(Exception):
    """Another notary added leaves since this one read the tree's end: read again."""


@dataclass(frozen=True, slots=True)
class Leaf:
    index: int
    position: int
    hash: bytes


class PostgresMerkleTree:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def end(self) -> tuple[int, int]:
        """``(size, last position)`` of the tree: how many leaves, and the position of the last (0 when empty)."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT count(*), coalesce(max(position), 0) FROM log_leaves").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def grow(self, size: int, events: Sequence[tuple[int, bytes]]) -> int:
        """Add one leaf per ``(position, event_hash)`` after leaf ``size - 1``; answers the new size."""
        if not events:
            return size
        leaves = [Leaf(size + i, position, leaf_hash(digest)) for i, (position, digest) in enumerate(events)]
        with self._pool.connection() as conn, conn.transaction():
            locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [_GROW_LOCK]).fetchone()
            current = conn.execute("SELECT count(*) FROM log_leaves").fetchone()
            if not (locked and locked[0]) or current is None or int(current[0]) != size:
                raise TreeMoved
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO log_leaves (leaf_index, position, leaf_hash) VALUES (%s, %s, %s)",
                    [(leaf.index, leaf.position, leaf.hash) for leaf in leaves],
                )
                cursor.executemany(
                    "INSERT INTO merkle_nodes (level, idx, hash) VALUES (%s, %s, %s)",
                    self._completed_nodes(conn, size, leaves),
                )
        return size + len(leaves)

    def _completed_nodes(
        self, conn: psycopg.Connection[Any], size: int, leaves: Sequence[Leaf]
    ) -> list[tuple[int, int, bytes]]:
        """Every perfect subtree (level ≥ 1) that the new leaves complete, children before parents."""
        known: dict[tuple[int, int], bytes] = {(0, leaf.index): leaf.hash for leaf in leaves}
        new_size = size + len(leaves)
        made: list[tuple[int, int, bytes]] = []
        level = 1
        while (1 << level) <= new_size:
            first = size >> level  # the first subtree of this level that may be completed now
            for idx in range(first, new_size >> level):
                left = self._hash(conn, known, level - 1, 2 * idx)
                right = self._hash(conn, known, level - 1, 2 * idx + 1)
                known[(level, idx)] = node_hash(left, right)
                made.append((level, idx, known[(level, idx)]))
            level += 1
        return made

    @staticmethod
    def _hash(conn: psycopg.Connection[Any], known: dict[tuple[int, int], bytes], level: int, idx: int) -> bytes:
        if (level, idx) in known:
            return known[(level, idx)]
        if level == 0:
            row = conn.execute("SELECT leaf_hash FROM log_leaves WHERE leaf_index = %s", [idx]).fetchone()
        else:
            row = conn.execute("SELECT hash FROM merkle_nodes WHERE level = %s AND idx = %s", [level, idx]).fetchone()
        if row is None:
            raise RuntimeError(f"the tree has no node at level {level}, index {idx}")
        known[(level, idx)] = bytes(row[0])
        return known[(level, idx)]

    def at(self, size: int) -> StoredNodes:
        """The tree of the first ``size`` leaves, as a node source for proofs and roots."""
        return StoredNodes(self._pool, size)

    def leaf_of(self, position: int) -> Leaf | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT leaf_index, position, leaf_hash FROM log_leaves WHERE position = %s", [position]
            ).fetchone()
        return None if row is None else Leaf(int(row[0]), int(row[1]), bytes(row[2]))

    # ------------------------------------------------------------------ tree heads
    def save_head(self, head: TreeHead) -> TreeHead:
        """Keep ``head``; a head of that size already kept wins (the same root, an earlier signature)."""
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO tree_heads (tree_size, root_hash, timestamp_ms, key_id, signature)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tree_size) DO NOTHING",
                [head.tree_size, head.root_hash, head.timestamp, head.key_id, head.signature],
            )
        kept = self.head(head.tree_size)
        assert kept is not None
        return kept

    def head(self, tree_size: int | None = None) -> TreeHead | None:
        """The head signed for ``tree_size``, or the latest one."""
        where = "WHERE tree_size = %s" if tree_size is not None else "ORDER BY tree_size DESC LIMIT 1"
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT tree_size, root_hash, timestamp_ms, key_id, signature FROM tree_heads {where}",
                [tree_size] if tree_size is not None else [],
            ).fetchone()
        if row is None:
            return None
        return TreeHead(int(row[0]), bytes(row[1]), int(row[2]), str(row[3]), bytes(row[4]))


class StoredNodes:
    """:class:`~eventledger_events.audit.merkle.NodeSource` over the stored perfect subtrees of one tree size."""

    def __init__(self, pool: ConnectionPool, size: int) -> None:
        self._pool = pool
        self._size = size

    @property
    def leaf_count(self) -> int:
        return self._size

    def subtree_hash(self, start: int, end: int) -> bytes:
        if not 0 <= start < end <= self._size:
            raise ValueError(f"no subtree [{start}, {end}) in a tree of {self._size} leaves")
        parts = perfect_subtrees(start, end)
        with self._pool.connection() as conn:
            hashes = [self._perfect(conn, s, e) for s, e in parts]
        return fold_perfect_subtrees(hashes)

    def root(self) -> bytes:
        return self.subtree_hash(0, self._size) if self._size else fold_perfect_subtrees([])

    @staticmethod
    def _perfect(conn: psycopg.Connection[Any], start: int, end: int) -> bytes:
        level = (end - start).bit_length() - 1
        if level == 0:
            row = conn.execute("SELECT leaf_hash FROM log_leaves WHERE leaf_index = %s", [start]).fetchone()
        else:
            row = conn.execute(
                "SELECT hash FROM merkle_nodes WHERE level = %s AND idx = %s", [level, start >> level]
            ).fetchone()
        if row is None:
            raise RuntimeError(f"the tree has no subtree [{start}, {end})")
        return bytes(row[0])
