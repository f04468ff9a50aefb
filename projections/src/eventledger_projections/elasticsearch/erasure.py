"""Erasure in the Elasticsearch read model: mask an erased holder everywhere, then make the old bytes go.

On an ``account.personal_data_erased`` the live projector, inside ``apply`` (before its progress moves):

1. puts ``[erased]`` in its holder-name cache for the account;
2. masks, in **every** version of the read model under its prefix (live, building, left behind) and in every
   sandbox (``<prefix>sandbox-<name>-``, ADR 0034): the account's holder document (``holder_name``), and every
   transfer document with the account on either side (that side's name, and the description, which is sealed
   under both parties' keys); each document is rewritten at its own external version (``external_gte``), so a
   newer event's document still wins and no event is lost;
3. refreshes those indices (search no longer finds the name or the description) and records the erasure in the
   progress index (``erasure|<account id>``), in the same call, so a crash afterwards still purges.

Masking rewrites a document, and Elasticsearch keeps the old one as a *soft-deleted* document in its segment files
for as long as a shard history retention lease holds it. On a single node the only lease is the primary's own peer
recovery lease, which follows the last safe commit and is renewed by a background sync (every 30 s); it cannot be
set shorter per index (``index.soft_deletes.retention_lease.period`` only decides when an absent copy's lease
expires). So the purge is a second step, :meth:`ErasurePurger.tick`, run with the progress refresh:

4. once an erasure is older than the holder-name cache's lifetime (another projector instance may have written the
   name from its cache meanwhile), mask again, refresh and flush, and note each index's ``max_seq_no``;
5. once every retention lease of those indices retains from above that sequence number, force-merge them with
   ``only_expunge_deletes`` (``index.merge.policy.expunge_deletes_allowed`` set to 0, so a segment with a single
   soft-deleted document is merged too), then delete the erasure record.

See docs/adr/0035-key-handling-for-personal-data.md.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from elasticsearch import Elasticsearch

from eventledger_events.personal import ERASED
from eventledger_projections.elasticsearch.bulk import IndexOp, bulk_index, fetch
from eventledger_projections.elasticsearch.holders import HolderNameCache
from eventledger_projections.elasticsearch.names import IndexNames

log = logging.getLogger(__name__)

PAGE = 500
ERASURE_KIND = "erasure"


def copies(es: Elasticsearch, names: IndexNames) -> tuple[list[str], list[str]]:
    """The concrete transfer indices and holder indices of every version and every sandbox under ``names``."""
    pattern = re.compile(re.escape(names.prefix) + r"(sandbox-[a-z][a-z0-9_]*-)?(transfers|holders)-v[0-9]+")
    found = es.indices.get(index=f"{names.prefix}*", expand_wildcards="open", allow_no_indices=True).body
    transfers: list[str] = []
    holders: list[str] = []
    for index in sorted(found):
        match = pattern.fullmatch(index)
        if match:
            (transfers if match.group(2) == "transfers" else holders).append(index)
    return transfers, holders


def mask(es: Elasticsearch, names: IndexNames, account_ids: Sequence[UUID]) -> list[str]:
    """Mask ``account_ids`` in every copy (idempotent) and refresh; answers the indices that hold (or held) them."""
    transfers, holders = copies(es, names)
    return mask_indices(es, transfers, holders, account_ids)


def mask_indices(
    es: Elasticsearch, transfers: Sequence[str], holders: Sequence[str], account_ids: Sequence[UUID]
) -> list[str]:
    """Mask ``account_ids`` in the given transfer and holder indices (or aliases) and refresh them."""
    transfers, holders = list(transfers), list(holders)
    if not account_ids or not (transfers or holders):
        return []
    ids = [str(a) for a in account_ids]
    if transfers:
        es.indices.refresh(index=transfers)
    ops: list[IndexOp] = []
    for index in holders:
        for doc in fetch(es, index, ids).values():
            if doc.source.get("holder_name") != ERASED:
                ops.append(_masked(doc.index or index, doc.doc_id, doc.source | {"holder_name": ERASED}, doc.version))
    for index in transfers:
        ops += _masked_transfers(es, index, set(ids))
    _write(es, ops)
    touched = sorted({op.index for op in ops} | set(transfers) | set(holders))
    es.indices.refresh(index=touched)
    return touched


def _masked_transfers(es: Elasticsearch, index: str, ids: set[str]) -> list[IndexOp]:
    query = {
        "bool": {
            "should": [{"terms": {"from_account_id": sorted(ids)}}, {"terms": {"to_account_id": sorted(ids)}}],
            "minimum_should_match": 1,
        }
    }
    ops: list[IndexOp] = []
    after: list[Any] | None = None
    while True:
        page = es.search(
            index=index, query=query, sort=[{"transfer_id": "asc"}], size=PAGE, version=True, search_after=after
        )
        hits = page["hits"]["hits"]
        if not hits:
            return ops
        after = hits[-1]["sort"]
        for hit in hits:
            source = dict(hit["_source"])
            masked = source | {"description": ERASED}
            masked["pending_holders"] = [a for a in source.get("pending_holders") or [] if a not in ids]
            for side in ("from", "to"):
                if source[f"{side}_account_id"] in ids:
                    masked[f"{side}_holder_name"] = ERASED
            if masked != source:
                ops.append(_masked(hit["_index"], hit["_id"], masked, int(hit["_version"])))


def _masked(index: str, doc_id: str, document: dict[str, Any], version: int) -> IndexOp:
    return IndexOp(index, doc_id, document, version, version_type="external_gte")


def _write(es: Elasticsearch, ops: list[IndexOp]) -> None:
    """Write the masked documents; a conflict means a newer document came meanwhile: read and mask it again."""
    for _ in range(5):
        conflicts = bulk_index(es, ops).conflicts
        if not conflicts:
            return
        again: list[IndexOp] = []
        for op in conflicts:
            stored = fetch(es, op.index, [op.doc_id]).get(op.doc_id)
            if stored is not None:
                masked = stored.source | {k: v for k, v in op.document.items() if v == ERASED}
                again.append(_masked(op.index, op.doc_id, masked, stored.version))
        ops = again
    raise RuntimeError(f"masking kept meeting newer documents: {[op.doc_id for op in ops]}")


@dataclass
class _Purge:
    """An erasure on its way to a force merge: the indices flushed, and the sequence number each must pass."""

    account_id: str
    flushed: dict[str, int] = field(default_factory=dict)


class ErasurePurger:
    """Records erasures in the progress index and purges the indices' old bytes once the leases let go."""

    def __init__(
        self,
        es: Elasticsearch,
        names: IndexNames,
        cache: HolderNameCache,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._es = es
        self._names = names
        self._cache = cache
        self._interval = interval
        self._clock = clock
        self._checked_at = float("-inf")
        self._pending: dict[str, _Purge] | None = None

    def erase(self, account_ids: Sequence[UUID], positions: Sequence[int]) -> None:
        """Steps 1 to 3 for ``account_ids`` (erased at ``positions``), in the batch's ``apply``."""
        for account_id in account_ids:
            self._cache.put(account_id, ERASED)
        mask(self._es, self._names, account_ids)
        now = datetime.now(UTC).isoformat()
        records = [
            IndexOp(
                self._names.progress,
                f"{ERASURE_KIND}|{account_id}",
                {"kind": ERASURE_KIND, "account_id": str(account_id), "position": position, "recorded_at": now},
            )
            for account_id, position in zip(account_ids, positions, strict=True)
        ]
        bulk_index(self._es, records, refresh=True)
        if self._pending is not None:
            for account_id in account_ids:
                self._pending.setdefault(str(account_id), _Purge(str(account_id)))

    def tick(self) -> int:
        """Steps 4 and 5 for the erasures due (at most every ``interval`` seconds); answers how many finished."""
        now = self._clock()
        if now - self._checked_at < self._interval:
            return 0
        self._checked_at = now
        finished = 0
        for purge in list(self._load().values()):
            if self._advance(purge):
                finished += 1
        return finished

    @property
    def pending(self) -> int:
        return len(self._load())

    def _load(self) -> dict[str, _Purge]:
        if self._pending is None:
            page = self._es.search(
                index=self._names.progress,
                query={"term": {"kind": ERASURE_KIND}},
                size=10_000,
                source_includes=["account_id"],
            )
            found = [hit["_source"]["account_id"] for hit in page["hits"]["hits"]]
            self._pending = {account_id: _Purge(account_id) for account_id in found}
        return self._pending

    def _advance(self, purge: _Purge) -> bool:
        doc_id = f"{ERASURE_KIND}|{purge.account_id}"
        if not purge.flushed:
            record = fetch(self._es, self._names.progress, [doc_id]).get(doc_id)
            if record is None:
                self._load().pop(purge.account_id, None)
                return False
            erased_at = datetime.fromisoformat(record.source["recorded_at"]).timestamp()
            if self._clock() - erased_at < self._cache.lifetime:
                return False
            indices = mask(self._es, self._names, [UUID(purge.account_id)])
            if not indices:  # no index left under the prefix: nothing to purge
                self._es.options(ignore_status=404).delete(index=self._names.progress, id=doc_id, refresh=True)
                self._load().pop(purge.account_id, None)
                return True
            if indices:
                self._es.indices.put_settings(
                    index=indices, settings={"index": {"merge": {"policy": {"expunge_deletes_allowed": 0}}}}
                )
                self._es.indices.flush(index=indices, force=True)
            purge.flushed = {index: self._max_seq_no(index) for index in indices}
            return False
        if not all(self._released(index, seq_no) for index, seq_no in purge.flushed.items()):
            return False
        self._es.indices.forcemerge(index=sorted(purge.flushed), only_expunge_deletes=True)
        self._es.options(ignore_status=404).delete(index=self._names.progress, id=doc_id, refresh=True)
        self._load().pop(purge.account_id, None)
        log.info("elasticsearch: erasure of %s purged from %d indices", purge.account_id, len(purge.flushed))
        return True

    def _max_seq_no(self, index: str) -> int:
        stats = self._es.indices.stats(index=index, level="shards")
        shards = stats["indices"].get(index, {}).get("shards", {})
        return max((c["seq_no"]["max_seq_no"] for copies_ in shards.values() for c in copies_), default=-1)

    def _released(self, index: str, seq_no: int) -> bool:
        """Whether no retention lease of ``index`` holds an operation at or below ``seq_no`` any more."""
        stats = self._es.indices.stats(index=index, level="shards")
        shards = stats["indices"].get(index, {}).get("shards", {})
        leases = [
            lease["retaining_seq_no"]
            for copies_ in shards.values()
            for c in copies_
            for lease in c.get("retention_leases", {}).get("leases", [])
        ]
        return all(retaining > seq_no for retaining in leases)
