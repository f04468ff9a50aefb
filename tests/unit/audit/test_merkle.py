"""The Merkle tree against RFC 9162's definitions: the reference vectors of the Certificate Transparency test suite
(transparency-dev/merkle ``testonly/constants.go`` and ``cmd/proofgen``), and properties over every small tree."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventledger_events.audit import (
    EMPTY_ROOT,
    InMemoryNodeSource,
    consistency_proof,
    fold_perfect_subtrees,
    inclusion_proof,
    leaf_hash,
    perfect_subtrees,
    root,
    verify_consistency,
    verify_inclusion,
)

LEAF_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof): cmd/proofgen counts leaves from 1, these from 0.
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
REFERENCE_LEAVES = [leaf_hash(data) for data in LEAF_INPUTS]
REFERENCE = InMemoryNodeSource(REFERENCE_LEAVES)
MAX_SIZE = 64


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    return data[: bit // 8] + bytes([data[bit // 8] ^ (1 << bit % 8)]) + data[bit // 8 + 1 :]


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest() == bytes.fromhex(ROOTS[0])


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_reference_vectors(size: int) -> None:
    assert root(REFERENCE_LEAVES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors(index: int, size: int, proof: list[str]) -> None:
    assert [node.hex() for node in inclusion_proof(REFERENCE, index, size)] == proof
    assert verify_inclusion(REFERENCE_LEAVES[index], index, size, [bytes.fromhex(p) for p in proof], root_of(size))


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors(old: int, new: int, proof: list[str]) -> None:
    assert [node.hex() for node in consistency_proof(REFERENCE, old, new)] == proof
    assert verify_consistency(old, new, [bytes.fromhex(p) for p in proof], root_of(old), root_of(new))


def root_of(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size])


def test_every_inclusion_proof_of_every_tree_up_to_64_leaves_verifies() -> None:
    for size in range(1, MAX_SIZE + 1):
        tree = InMemoryNodeSource(leaves(size))
        top = root(leaves(size))
        for index in range(size):
            proof = inclusion_proof(tree, index)
            assert verify_inclusion(leaves(size)[index], index, size, proof, top), (index, size)


def test_every_consistency_proof_between_trees_up_to_64_leaves_verifies() -> None:
    everything = InMemoryNodeSource(leaves(MAX_SIZE))
    roots = [root(leaves(size)) for size in range(MAX_SIZE + 1)]
    for new in range(MAX_SIZE + 1):
        for old in range(new + 1):
            proof = consistency_proof(everything, old, new)
            assert verify_consistency(old, new, proof, roots[old], roots[new]), (old, new)


@given(st.data())
def test_a_flipped_bit_anywhere_breaks_an_inclusion_proof(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    tree_leaves = leaves(size)
    proof = inclusion_proof(InMemoryNodeSource(tree_leaves), index)
    top, leaf = root(tree_leaves), tree_leaves[index]
    bit = data.draw(st.integers(0, 255), label="bit")
    target = data.draw(st.sampled_from(["proof", "leaf", "index", "root"] if proof else ["leaf", "root"]))
    if target == "proof":
        at = data.draw(st.integers(0, len(proof) - 1), label="node")
        proof[at] = flip(proof[at], bit)
    elif target == "leaf":
        leaf = flip(leaf, bit)
    elif target == "root":
        top = flip(top, bit)
    else:
        index ^= 1 << data.draw(st.integers(0, 6), label="index bit")
    assert not verify_inclusion(leaf, index, size, proof, top)


@given(st.data())
def test_a_changed_root_or_proof_breaks_a_consistency_proof(data: st.DataObject) -> None:
    new = data.draw(st.integers(2, MAX_SIZE), label="new")
    old = data.draw(st.integers(1, new - 1), label="old")
    proof = consistency_proof(InMemoryNodeSource(leaves(new)), old, new)
    old_root, new_root = root(leaves(old)), root(leaves(new))
    bit = data.draw(st.integers(0, 255), label="bit")
    target = data.draw(st.sampled_from(["old root", "new root", "proof", "shorter", "longer"]))
    if target == "old root":
        old_root = flip(old_root, bit)
    elif target == "new root":
        new_root = flip(new_root, bit)
    elif target == "proof":
        at = data.draw(st.integers(0, len(proof) - 1), label="node")
        proof[at] = flip(proof[at], bit)
    elif target == "shorter":
        proof = proof[:-1]
    else:
        proof = [*proof, new_root]
    assert not verify_consistency(old, new, proof, old_root, new_root)


def test_consistency_recomputes_the_old_root_not_only_the_new_one() -> None:
    # Between 6 and 8 leaves, the proof's first node is inside the old tree only: a verifier that rebuilt the new
    # root alone would accept any old root.
    proof = consistency_proof(REFERENCE, 6, 8)
    assert not verify_consistency(6, 8, proof, root_of(5), root_of(8))
    assert verify_consistency(6, 8, proof, root_of(6), root_of(8))


def test_trivial_consistency_cases() -> None:
    assert verify_consistency(0, 5, [], EMPTY_ROOT, root_of(5))
    assert not verify_consistency(0, 5, [], root_of(1), root_of(5))
    assert verify_consistency(4, 4, [], root_of(4), root_of(4))
    assert not verify_consistency(4, 4, [], root_of(4), root_of(5))
    assert not verify_consistency(4, 4, [root_of(4)], root_of(4), root_of(4))
    assert not verify_consistency(5, 4, [], root_of(4), root_of(4))
    assert not verify_consistency(2, 5, [], root_of(2), root_of(5))


def test_an_index_outside_the_tree_never_verifies() -> None:
    assert not verify_inclusion(REFERENCE_LEAVES[0], 1, 1, [], REFERENCE_LEAVES[0])
    assert not verify_inclusion(REFERENCE_LEAVES[0], -1, 1, [], REFERENCE_LEAVES[0])
    with pytest.raises(ValueError, match="no leaf"):
        inclusion_proof(REFERENCE, 8)


@pytest.mark.parametrize(("start", "end"), [(0, n) for n in range(65)] + [(16, 29), (32, 64), (8, 15), (40, 43)])
def test_an_aligned_range_is_the_fold_of_its_perfect_subtrees(start: int, end: int) -> None:
    tree_leaves = leaves(64)
    parts = perfect_subtrees(start, end)
    assert all((b - a) & (b - a - 1) == 0 and a % (b - a) == 0 for a, b in parts)
    assert sum(b - a for a, b in parts) == end - start
    assert fold_perfect_subtrees([root(tree_leaves[a:b]) for a, b in parts]) == root(tree_leaves[start:end])


class PerfectSubtreeStore:
    """A store that answers only from perfect subtrees (as the notary's merkle_nodes table would)."""

    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self._leaves = leaf_hashes
        self.asked: list[tuple[int, int]] = []

    @property
    def leaf_count(self) -> int:
        return len(self._leaves)

    def subtree_hash(self, start: int, end: int) -> bytes:
        parts = perfect_subtrees(start, end)
        self.asked += parts
        return fold_perfect_subtrees([root(self._leaves[a:b]) for a, b in parts])


def test_proofs_from_a_store_of_perfect_subtrees_are_the_same() -> None:
    tree_leaves = leaves(45)
    store, memory = PerfectSubtreeStore(tree_leaves), InMemoryNodeSource(tree_leaves)
    for index in range(45):
        assert inclusion_proof(store, index) == inclusion_proof(memory, index)
    for old in range(46):
        assert consistency_proof(store, old) == consistency_proof(memory, old)
    assert all(a % (b - a) == 0 for a, b in store.asked)
