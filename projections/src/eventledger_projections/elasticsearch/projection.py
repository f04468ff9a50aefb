"""The Elasticsearch read model as a :class:`~eventledger_projections.runtime.port.Projection`.

Writes go through the aliases, so the live projector follows a rebuild's switch without being told; progress is
kept in the progress index after each write (:mod:`.progress`); the reflected position is claimed only once the
documents it covers are searchable (refreshed) and their holder names completed where they can be.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

from elasticsearch import Elasticsearch

from eventledger_events import AccountPersonalDataErased
from eventledger_projections.elasticsearch.bulk import is_unavailable
from eventledger_projections.elasticsearch.client import elasticsearch_client
from eventledger_projections.elasticsearch.documents import UnknownTransfer
from eventledger_projections.elasticsearch.erasure import ErasurePurger
from eventledger_projections.elasticsearch.indices import ensure_read_model
from eventledger_projections.elasticsearch.names import IndexNames, Target
from eventledger_projections.elasticsearch.progress import ProgressStore
from eventledger_projections.elasticsearch.writer import RELEVANT_EVENT_TYPES, TransferIndexWriter, WriteReport
from eventledger_projections.runtime.port import Applicable, ParkedMessage, Projection, TopicPartition, decoded

log = logging.getLogger(__name__)
_PREVIEW = re.compile(r"Preview of field's value: '.*?'(?=[\]\)}\s,;]|$)", re.S)


class SwitchInProgress(Exception):
    """A settlement met no transfer document while a rebuild's new version catches up: the creation is on its way
    (the rebuild writes it), so the runner retries instead of parking the event."""


class ElasticsearchProjection(Projection):
    """Transfers for full-text search, with holder names (PRODUCT.md §3 GET /v1/search/transfers).

    Keeps the :class:`Projection` contract with these specifics:

    - ``apply`` is idempotent by external versions (:mod:`.documents`); it is not atomic (Elasticsearch has no
      transactions): when it raises, some documents may be written, all of which are harmless to write again, and
      the progress is not moved.
    - ``load_offsets`` answers the offsets kept in the progress index (written after each successful write).
    - ``is_transient`` is true for connection failures, timeouts, 429/502/503/504 and a missing index (a version
      switch in progress, :class:`SwitchInProgress`); false for documents refused by the mapping and for events
      that cannot be applied.
    - ``account.personal_data_erased`` masks the holder in every copy of the read model before the progress moves,
      and its old bytes are purged later by :meth:`mark_caught_up` (:mod:`.erasure`).
    - Only the events that change the read model are decoded (``event_types``: accounts opened, and transfers); the
      others (credits, debits, holds, ...) pass with their offsets and positions (ADR 0022).
    - The indices are created on first use (version 1 behind the aliases when there is none), so that the runner's
      retries cover an Elasticsearch that is not up yet.
    """

    name: ClassVar[str] = "elasticsearch"
    event_types: ClassVar[frozenset[str] | None] = frozenset(RELEVANT_EVENT_TYPES)

    def __init__(
        self,
        es: Elasticsearch,
        names: IndexNames | None = None,
        *,
        replicas: int = 0,
        owns_client: bool = False,
        offsets_flush_interval: float = 1.0,
    ) -> None:
        """``offsets_flush_interval``: at most how often the offsets are written after a batch (:mod:`.progress`)."""
        self._es = es
        self.names = names or IndexNames()
        self._replicas = replicas
        self._owns_client = owns_client
        self._target = Target.live(self.names)
        self.writer = TransferIndexWriter(es)
        self.progress = ProgressStore(es, self.names, flush_interval=offsets_flush_interval)
        self.erasures = ErasurePurger(es, self.names, self.writer.holders.cache)
        self._ensured = False
        self.last_report: WriteReport | None = None

    @classmethod
    def from_url(cls, url: str, names: IndexNames | None = None, *, replicas: int = 0) -> ElasticsearchProjection:
        """A projection with its own client (closed by :meth:`close`)."""
        return cls(elasticsearch_client(url), names, replicas=replicas, owns_client=True)

    def _ensure(self) -> None:
        if not self._ensured:
            ensure_read_model(self._es, self.names, replicas=self._replicas)
            self._ensured = True

    def apply(self, batch: Sequence[Applicable]) -> None:
        self._ensure()
        try:
            self.last_report = self.writer.write(self._target, decoded(batch))
        except UnknownTransfer as error:
            if self.progress.cap() is not None:
                raise SwitchInProgress(str(error)) from error
            raise
        erasures = [(e.payload, e.position or 0) for e in decoded(batch)]
        erased = [
            (payload.account_id, at) for payload, at in erasures if isinstance(payload, AccountPersonalDataErased)
        ]
        if erased:
            self.erasures.erase([account for account, _ in erased], [at for _, at in erased])
        self.progress.advance(batch)

    def skip(self, parked: Sequence[ParkedMessage]) -> None:
        self._ensure()
        self.progress.skip(parked)

    def load_offsets(self) -> Mapping[TopicPartition, int] | None:
        self._ensure()
        return self.progress.offsets()

    def mark_caught_up(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> None:
        self.claim(relay_position, high_watermarks)

    def claim(self, relay_position: int, high_watermarks: Mapping[TopicPartition, int]) -> int:
        """The claim answers the reflected position it wrote (lowered to the rebuild cap): no read after it."""
        self._ensure()
        reflected = self.progress.mark_caught_up(relay_position, high_watermarks, self.make_visible)
        try:
            self.erasures.tick()
        except Exception as error:  # the erasure stays recorded: the next tick tries again
            log.error("elasticsearch: the purge of an erasure failed (tried again at the next tick): %s", error)
        return reflected

    def make_visible(self) -> None:
        """Refresh the live indices, complete the documents whose holder names became known, refresh again if any
        was rewritten: afterwards every document written so far is searchable with every name known."""
        indices = [self._target.transfers, self._target.holders]
        self._es.indices.refresh(index=indices)
        if self.writer.repair(self._target):
            self._es.indices.refresh(index=self._target.transfers)

    def reflected_position(self) -> int:
        return self.progress.reflected_position()

    def describe(self, error: BaseException) -> str:
        """Without the value previews Elasticsearch puts in mapping errors (``Preview of field's value: '...'``)."""
        return _PREVIEW.sub("Preview of field's value withheld", super().describe(error))

    def is_transient(self, error: BaseException) -> bool:
        return isinstance(error, SwitchInProgress) or is_unavailable(error)

    def ready(self) -> bool:
        try:
            health = self._es.options(request_timeout=2).cluster.health(timeout="1s")
        except Exception:
            return False
        return health["status"] in ("green", "yellow")

    def close(self) -> None:
        """Write the offsets not written yet (best effort: they only shorten a replay), release the client."""
        try:
            self.progress.flush()
        except Exception as error:
            log.warning("elasticsearch: offsets not written at close (the next start replays a little): %s", error)
        if self._owns_client:
            self._es.close()
