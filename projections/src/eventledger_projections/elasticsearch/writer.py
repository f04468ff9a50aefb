"""Writing events into one version of the read model (the live aliases, or a version being rebuilt).

Per batch, in this order:

1. each ``account.opened`` becomes a holder document (external version = its stream version), and its name goes
   into the name cache at once, so transfers of the same batch find it;
2. each transfer's events of the batch are folded, starting from its current state: the pending-transfer cache,
   else the stored document (one real-time ``mget`` for the misses), else nothing (a creating event needs none);
3. the holder names of every changed transfer are looked up (cache, then one real-time ``mget``);
4. one bulk request writes the holder documents and one document per changed transfer, each with its external
   version (:func:`~.documents.document_version`); every item is checked (:func:`~.bulk.bulk_index`).

Other account events (credits, debits, holds, status changes) do not change a transfer document and are ignored.
An ``account.personal_data_erased`` puts ``[erased]`` in the name cache and, once the batch is written, masks the
holder in the target's documents (:mod:`.erasure`); the live projection then masks every other copy too.

A transfer may reach the index before the opening of one of its accounts (the two travel in different
partitions). Its document is then written without that name, with the account listed in ``pending_holders``, and
:meth:`TransferIndexWriter.repair` completes it later (docs/adr/0011-elasticsearch-read-model.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from elasticsearch import Elasticsearch

from eventledger_events import (
    TRANSFER_EVENT_TYPES,
    AccountOpened,
    AccountPersonalDataErased,
    EventEnvelope,
    TransferPendingCreated,
    TransferPosted,
)
from eventledger_events.personal import ERASED
from eventledger_events.streams import TRANSFER_CATEGORY
from eventledger_projections.elasticsearch.bulk import IndexOp, bulk_index, fetch
from eventledger_projections.elasticsearch.documents import (
    HolderNames,
    TransferState,
    UnappliableEvent,
    document_version,
    fold,
    from_document,
    to_document,
)
from eventledger_projections.elasticsearch.erasure import mask_indices
from eventledger_projections.elasticsearch.holders import HolderLookup, HolderNameCache
from eventledger_projections.elasticsearch.names import Target

REPAIR_PAGE = 500
TRANSFER_PREFIX = f"{TRANSFER_CATEGORY}-"

RELEVANT_EVENT_TYPES: tuple[str, ...] = (
    AccountOpened.EVENT_TYPE,
    AccountPersonalDataErased.EVENT_TYPE,
    *(event_type.EVENT_TYPE for event_type in TRANSFER_EVENT_TYPES),
)
"""The only events that change this read model; a reader may leave every other one out (a rebuild does)."""


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What one :meth:`TransferIndexWriter.write` did: documents written, refused as not newer, left without a
    holder name."""

    holders: int
    transfers: int
    conflicts: int
    pending_names: int


@dataclass(frozen=True, slots=True)
class PreparedWrite:
    """A batch folded into documents, not written yet (:meth:`TransferIndexWriter.prepare`)."""

    target: Target
    holder_ops: list[IndexOp]
    transfer_ops: list[IndexOp]
    erased: list[UUID]
    states: dict[UUID, TransferState]
    pending_names: int
    optimistic: bool


class PendingTransfers:
    """States of pending transfers as last written: a settlement usually follows soon, and then needs no read.

    Safe without invalidation: a state is put here only once the index holds it (or something newer), and the
    state at a stream version is the same whoever computes it; an event not newer than the cached state is skipped,
    which is what the stored document would have decided too.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._states: OrderedDict[UUID, TransferState] = OrderedDict()

    def get(self, transfer_id: UUID) -> TransferState | None:
        return self._states.get(transfer_id)

    def remember(self, state: TransferState) -> None:
        if state.is_final:
            self._states.pop(state.transfer_id, None)
            return
        self._states[state.transfer_id] = state
        self._states.move_to_end(state.transfer_id)
        while len(self._states) > self._capacity:
            self._states.popitem(last=False)

    def forget(self, transfer_id: UUID) -> None:
        self._states.pop(transfer_id, None)


class TransferIndexWriter:
    """Applies events to a :class:`~.names.Target`. Idempotent: applying an event again, or an older event after a
    newer one, leaves every document as it was (the fold skips it, or Elasticsearch refuses its version)."""

    def __init__(self, es: Elasticsearch, *, names: HolderNameCache | None = None) -> None:
        self._es = es
        self.holders = HolderLookup(es, names)
        self.pending = PendingTransfers()

    def write(self, target: Target, envelopes: Sequence[EventEnvelope]) -> WriteReport:
        """Apply ``envelopes`` (in the order given per stream). Raises :class:`~.documents.UnappliableEvent`, or
        the errors of :mod:`.bulk` and of the client; then some documents may be written, all harmlessly again."""
        return self.commit(self.prepare(target, envelopes))

    def prepare(
        self,
        target: Target,
        envelopes: Sequence[EventEnvelope],
        *,
        before_read: Callable[[], None] | None = None,
        optimistic: bool = False,
    ) -> PreparedWrite:
        """Fold ``envelopes`` into the documents to write (reads the index only for what the caches miss, after
        calling ``before_read``). ``optimistic`` puts the folded states into the pending-transfer cache now rather
        than once written, so that the next batch can be prepared while this one is being written: only for a
        writer that gives up at the first failure (a rebuild), never for one that retries a batch."""
        holder_ops: list[IndexOp] = []
        erased: list[UUID] = []
        transfer_events: dict[UUID, list[EventEnvelope]] = {}
        for envelope in envelopes:
            payload = envelope.payload
            if isinstance(payload, AccountOpened):
                holder_ops.append(self._holder_op(target, envelope, payload))
            elif isinstance(payload, AccountPersonalDataErased):
                erased.append(payload.account_id)
                self.holders.cache.put(payload.account_id, ERASED)
            elif envelope.stream_id.startswith(TRANSFER_PREFIX):
                transfer_id = getattr(payload, "transfer_id", None)
                if not isinstance(transfer_id, UUID):
                    raise UnappliableEvent(f"{envelope.full_event_type} in {envelope.stream_id} names no transfer")
                transfer_events.setdefault(transfer_id, []).append(envelope)
        states = self._fold(target, transfer_events, before_read)
        names = self.holders.names_for(target.holders, states.values(), before_read=before_read)
        transfer_ops = [
            IndexOp(
                target.transfers,
                str(transfer_id),
                to_document(state, names[transfer_id]),
                document_version(state.stream_version, names[transfer_id]),
            )
            for transfer_id, state in states.items()
        ]
        if optimistic:
            for state in states.values():
                self.pending.remember(state)
        pending_names = sum(1 for n in names.values() if n.from_name is None or n.to_name is None)
        return PreparedWrite(target, holder_ops, transfer_ops, erased, states, pending_names, optimistic)

    def commit(self, prepared: PreparedWrite) -> WriteReport:
        """Write what :meth:`prepare` folded, in one bulk request with every item checked; then (unless prepared
        optimistically) remember the pending states written and forget those the index refused as older."""
        target = prepared.target
        outcome = bulk_index(self._es, [*prepared.holder_ops, *prepared.transfer_ops])
        if prepared.erased:  # after the batch's own documents, which may still carry what the key opened
            mask_indices(self._es, [target.transfers], [target.holders], prepared.erased)
        written = {op.doc_id for op in outcome.written if op.index == target.transfers}
        if not prepared.optimistic:
            for op in outcome.conflicts:
                if op.index == target.transfers:
                    self.pending.forget(UUID(op.doc_id))
            for transfer_id, state in prepared.states.items():
                if str(transfer_id) in written:
                    self.pending.remember(state)
        return WriteReport(
            holders=len(prepared.holder_ops),
            transfers=len(written),
            conflicts=len(outcome.conflicts),
            pending_names=prepared.pending_names,
        )

    def _holder_op(self, target: Target, envelope: EventEnvelope, opened: AccountOpened) -> IndexOp:
        if envelope.position is None:
            raise UnappliableEvent(f"event {envelope.event_id} has no global position")
        self.holders.cache.put(opened.account_id, opened.holder_name)
        document = {
            "account_id": str(opened.account_id),
            "holder_name": opened.holder_name,
            "currency": opened.currency,
            "position": envelope.position,
        }
        return IndexOp(target.holders, str(opened.account_id), document, envelope.stream_version)

    def _fold(
        self, target: Target, events: dict[UUID, list[EventEnvelope]], before_read: Callable[[], None] | None
    ) -> dict[UUID, TransferState]:
        """The new state of every transfer the events change (transfers whose events are all old are left out)."""
        starts: dict[UUID, TransferState | None] = {}
        to_read: list[UUID] = []
        for transfer_id, envelopes in events.items():
            starts[transfer_id] = self.pending.get(transfer_id)
            first = envelopes[0].payload
            if starts[transfer_id] is None and not isinstance(first, TransferPosted | TransferPendingCreated):
                to_read.append(transfer_id)
        if to_read and before_read is not None:
            before_read()
        for doc in fetch(self._es, target.transfers, [str(t) for t in to_read]).values():
            starts[UUID(doc.doc_id)] = from_document(doc.source)[0]
        changed: dict[UUID, TransferState] = {}
        for transfer_id, envelopes in events.items():
            state = starts[transfer_id]
            for envelope in envelopes:
                folded = fold(state, envelope)
                if folded is not None:
                    state = changed[transfer_id] = folded
        return changed

    def repair(self, target: Target) -> int:
        """Complete the documents written before a holder's name was known; answers how many were rewritten.

        Finds them by search, so the caller refreshes ``target.transfers`` first; a document whose names are still
        unknown stays as it is. Each rewrite keeps the stream version and raises the name bits, so it never
        overwrites a newer event's document (a conflict then is harmless: that writer looked the names up itself).
        """
        rewritten = 0
        after: list[str] | None = None
        while True:
            page = self._es.search(
                index=target.transfers,
                query={"exists": {"field": "pending_holders"}},
                sort=[{"transfer_id": "asc"}],
                size=REPAIR_PAGE,
                version=True,
                search_after=after,
            )
            hits = page["hits"]["hits"]
            if not hits:
                return rewritten
            after = hits[-1]["sort"]
            stored = {UUID(hit["_id"]): (int(hit["_version"]), *from_document(hit["_source"])) for hit in hits}
            fresh = self.holders.names_for(target.holders, [state for _, state, _ in stored.values()])
            ops: list[IndexOp] = []
            for transfer_id, (version, state, names) in stored.items():
                known = HolderNames(
                    names.from_name or fresh[transfer_id].from_name, names.to_name or fresh[transfer_id].to_name
                )
                if known.bits > names.bits and document_version(state.stream_version, known) > version:
                    ops.append(
                        IndexOp(
                            target.transfers,
                            str(transfer_id),
                            to_document(state, known),
                            document_version(state.stream_version, known),
                        )
                    )
            rewritten += len(bulk_index(self._es, ops).written)
