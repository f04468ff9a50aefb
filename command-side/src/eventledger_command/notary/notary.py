"""The notary: grows the Merkle tree of the global log over settled positions and signs tree heads (ADR 0025).

Contract of :class:`Notary`: each :meth:`run_once` adds the leaves of the events after the tree's last leaf that
the gap-safe reader gives (settled positions only, so a leaf is never added before an event below it commits), at
most ``batch`` at a time; :meth:`run` repeats it until stopped and signs a tree head whenever the tree grew and the
last head is at least ``head_every_seconds`` old. Several notaries may run (one per relay process): they never
interleave (:class:`~eventledger_command.notary.tree.TreeMoved`), and the one that loses a round reads again.
:class:`TreeHeads` signs on demand too (the audit API).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import Counter, Gauge

from eventledger_command.notary.tree import PostgresMerkleTree, TreeMoved
from eventledger_events.audit.tree_head import TreeHead, sign_tree_head
from eventledger_runtime.eventlog import EventLogReader
from eventledger_runtime.worker import StoppableLoop

log = logging.getLogger(__name__)

TREE_SIZE = Gauge("eventledger_notary_tree_size", "Leaves in the Merkle tree of the global log")
HEAD_SIZE = Gauge("eventledger_notary_signed_tree_size", "The size of the latest signed tree head")
HEADS = Counter("eventledger_notary_tree_heads_total", "Tree heads signed by this process")
IDLE_SECONDS = 0.2


def load_signing_key(secret: str) -> Ed25519PrivateKey:
    """The tree-head key from its setting: 64 hex digits (the 32-byte seed) or a PKCS#8 PEM."""
    text = secret.strip()
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    key = serialization.load_pem_private_key(text.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("EVENTLEDGER_AUDIT_TREE_HEAD_KEY is not an Ed25519 key")
    return key


class TreeHeads:
    """Signs the tree as it stands and keeps the head."""

    def __init__(
        self, tree: PostgresMerkleTree, key: Ed25519PrivateKey, clock: Callable[[], float] = time.time
    ) -> None:
        self._tree = tree
        self._key = key
        self._clock = clock

    @property
    def public_key(self) -> bytes:
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self) -> TreeHead:
        size, _ = self._tree.end()
        latest = self._tree.head()
        if latest is not None and latest.tree_size == size:
            return latest
        head = sign_tree_head(self._key, size, self._tree.at(size).root(), int(self._clock() * 1000))
        kept = self._tree.save_head(head)
        HEADS.inc()
        HEAD_SIZE.set(kept.tree_size)
        return kept


class Notary(StoppableLoop):
    def __init__(
        self,
        tree: PostgresMerkleTree,
        reader: EventLogReader,
        heads: TreeHeads,
        *,
        batch: int,
        head_every_seconds: float,
    ) -> None:
        super().__init__()
        self._tree = tree
        self._reader = reader
        self._heads = heads
        self._batch = batch
        self._every = head_every_seconds
        self._last_head = float("-inf")

    def run_once(self) -> int:
        """Add the next settled events to the tree; answers how many leaves were added."""
        size, last_position = self._tree.end()
        events = self._reader.read(last_position, limit=self._batch, wait=0.5)
        unhashed = [e.position for e in events if e.event_hash is None]
        if unhashed:
            raise RuntimeError(f"events without a chain hash at positions {unhashed[:5]}: is the store migrated?")
        try:
            grown = self._tree.grow(size, [(e.position, e.event_hash) for e in events if e.event_hash is not None])
        except TreeMoved:
            return 0
        TREE_SIZE.set(grown)
        return grown - size

    def run(self) -> None:
        log.info("notary started")
        while not self.stopping:
            try:
                added = self.run_once()
                if time.monotonic() - self._last_head >= self._every:
                    head = self._heads.sign()
                    self._last_head = time.monotonic()
                    log.debug("tree head %d", head.tree_size)
            except Exception as exc:  # PostgreSQL away: logged, retried; nothing is lost, the tree just waits
                log.warning("notary: %s (retrying)", str(exc)[:300])
                added = 0
                self._stop.wait(1.0)
            if not added:
                self._stop.wait(IDLE_SECONDS)
