"""The Merkle tree of the global log, as RFC 9162 section 2.1 defines it (SHA-256).

Contract (fixed; the notary's SQL and the audit API use exactly this):

- a leaf is one event, in increasing position order (positions have holes: leaf index is the rank, not the position);
- ``leaf_hash = SHA-256(0x00 || event_hash)``; an interior node is ``SHA-256(0x01 || left || right)``;
- the hash of the empty tree is ``SHA-256(b"")``;
- ``MTH(D[n])`` splits at ``k``, the largest power of two smaller than ``n``: ``node_hash(MTH(D[0:k]), MTH(D[k:n]))``.

Proofs are generated (sections 2.1.3.1 and 2.1.4.1) over a :class:`NodeSource`, and verified with the algorithms of
sections 2.1.3.2 and 2.1.4.2, step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: for an event, ``data`` is its 32-byte event hash."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """``k``, the largest power of two smaller than ``n`` (``n >= 2``)."""
    if n < 2:
        raise ValueError(f"a tree of {n} leaves does not split")
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of the tree whose leaves hash to ``leaf_hashes`` (the empty tree included)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = split_point(len(leaf_hashes))
    return node_hash(root(leaf_hashes[:k]), root(leaf_hashes[k:]))


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The aligned perfect subtrees ``[s, s + 2**l)`` that make up ``D[start:end]``, left to right, largest first.

    Every range the proof generators ask for starts at a multiple of the smallest power of two not below its size
    (that is what the RFC's recursion reaches), and for such a range ``MTH`` is the right fold of the hashes of these
    subtrees: ``node_hash(h1, node_hash(h2, ... hk))``. A store that keeps the hash of every complete subtree (level
    ``l``, index ``s >> l``) can thus answer :meth:`NodeSource.subtree_hash` with at most ``log2(size)`` reads.
    """
    if not 0 <= start <= end:
        raise ValueError(f"no range [{start}, {end})")
    parts: list[tuple[int, int]] = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        # An aligned subtree: its size must also divide its start.
        while start % size:
            size //= 2
        parts.append((start, start + size))
        start += size
    return parts


def fold_perfect_subtrees(hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of an aligned range from the hashes of :func:`perfect_subtrees` (in that order)."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


class NodeSource(Protocol):
    """What the proof generators read: the leaves of one tree.

    - ``leaf_count`` is the size of the tree the proofs are for; it never shrinks.
    - ``subtree_hash(start, end)`` is ``MTH(D[start:end])`` for ``0 <= start < end <= leaf_count``. The generators only
      ask for ranges whose start is a multiple of the smallest power of two not below ``end - start``, so a store
      may answer them from stored perfect subtrees through :func:`perfect_subtrees` and
      :func:`fold_perfect_subtrees`.
    """

    @property
    def leaf_count(self) -> int: ...

    def subtree_hash(self, start: int, end: int) -> bytes: ...


class InMemoryNodeSource:
    """A :class:`NodeSource` over a list of leaf hashes, computing every subtree hash from the leaves."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self._leaves = list(leaf_hashes)

    @property
    def leaf_count(self) -> int:
        return len(self._leaves)

    def subtree_hash(self, start: int, end: int) -> bytes:
        if not 0 <= start < end <= len(self._leaves):
            raise ValueError(f"no subtree [{start}, {end}) in a tree of {len(self._leaves)} leaves")
        return root(self._leaves[start:end])


def inclusion_proof(source: NodeSource, index: int, size: int | None = None) -> list[bytes]:
    """``PATH(index, D[size])`` (RFC 9162 section 2.1.3.1), bottom-up; ``size`` defaults to the whole source."""
    size = source.leaf_count if size is None else size
    if not 0 <= index < size <= source.leaf_count:
        raise ValueError(f"no leaf {index} in a tree of {size} leaves")
    return _path(source, index, 0, size)


def _path(source: NodeSource, m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*_path(source, m, start, start + k), source.subtree_hash(start + k, end)]
    return [*_path(source, m - k, start + k, end), source.subtree_hash(start, start + k)]


def consistency_proof(source: NodeSource, old_size: int, new_size: int | None = None) -> list[bytes]:
    """``PROOF(old_size, D[new_size])`` (RFC 9162 section 2.1.4.1); empty when the sizes are equal or old is 0."""
    new_size = source.leaf_count if new_size is None else new_size
    if not 0 <= old_size <= new_size <= source.leaf_count:
        raise ValueError(f"no consistency proof from {old_size} to {new_size} leaves")
    if old_size == 0:
        return []
    return _subproof(source, old_size, 0, new_size, complete=True)


def _subproof(source: NodeSource, m: int, start: int, end: int, *, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [source.subtree_hash(start, end)]
    k = split_point(n)
    if m <= k:
        return [*_subproof(source, m, start, start + k, complete=complete), source.subtree_hash(start + k, end)]
    return [*_subproof(source, m - k, start + k, end, complete=False), source.subtree_hash(start, start + k)]


def range_nodes(size: int, start: int, end: int) -> list[tuple[int, int]]:
    """The nodes of the tree of ``size`` leaves that an auditor holding only the leaves ``D[start:end]`` needs to
    recompute its root: each node ``[lo, hi)`` wholly outside the range whose parent is not, left to right.

    They are nodes of RFC 9162's recursion, so a :class:`NodeSource` answers them; with their hashes,
    :func:`root_of_range` gives ``MTH(D[size])``. An empty range is refused (there is nothing to check).
    """
    if not 0 <= start < end <= size:
        raise ValueError(f"no range [{start}, {end}) of leaves in a tree of {size}")
    nodes: list[tuple[int, int]] = []

    def walk(lo: int, hi: int) -> None:
        if hi <= start or lo >= end:
            nodes.append((lo, hi))
        elif not (start <= lo and hi <= end):
            k = split_point(hi - lo)
            walk(lo, lo + k)
            walk(lo + k, hi)

    walk(0, size)
    return nodes


def root_of_range(size: int, start: int, leaf_hashes: Sequence[bytes], nodes: Mapping[tuple[int, int], bytes]) -> bytes:
    """``MTH(D[size])`` from the leaf hashes of ``D[start:start + len(leaf_hashes)]`` and the hashes of
    :func:`range_nodes` (keyed by ``(lo, hi)``); ``ValueError`` when a node it needs is not given."""
    end = start + len(leaf_hashes)
    if not 0 <= start < end <= size:
        raise ValueError(f"no range [{start}, {end}) of leaves in a tree of {size}")

    def mth(lo: int, hi: int) -> bytes:
        if start <= lo and hi <= end:
            return root(leaf_hashes[lo - start : hi - start])
        if hi <= start or lo >= end:
            try:
                return nodes[(lo, hi)]
            except KeyError:
                raise ValueError(f"the hash of node [{lo}, {hi}) is needed and not given") from None
        k = split_point(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, size)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` show the leaf hash ``leaf`` at ``index`` in the tree ``root_hash``?"""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof) or len(leaf) != HASH_SIZE:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> bool:
    """RFC 9162 section 2.1.4.2: does ``proof`` show the tree ``new_root`` extends the tree ``old_root``?

    Both roots are recomputed from the proof. The RFC leaves out the trivial cases, handled here: equal sizes need an
    empty proof and equal roots; an empty old tree needs an empty proof and the empty root.
    """
    if not 0 <= old_size <= new_size or any(len(c) != HASH_SIZE for c in proof):
        return False
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
