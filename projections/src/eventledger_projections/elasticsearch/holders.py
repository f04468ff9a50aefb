"""Holder names for transfer documents: a lookup index fed by ``account.opened``, read by id, with a local cache.

No event renames an account, but an erasure (``account.personal_data_erased``) masks a name to ``[erased]``, and
only the projector instance that applies the erasure learns it. So a cached name lives at most
:data:`NAME_LIFETIME` seconds: another instance stops writing an erased name within that time, and the erasure's
purge masks once more after it (:mod:`.erasure`, docs/adr/0035-key-handling-for-personal-data.md).
Reads by id (``mget``) are real-time in Elasticsearch: a holder document is visible to them as soon as its bulk
request returned, without a refresh.
The currency's external account (the other side of deposits and withdrawals) has no ``account.opened``; it is
named :data:`EXTERNAL_HOLDER_NAME` without a lookup.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import lru_cache
from uuid import UUID

from elasticsearch import Elasticsearch

from eventledger_events import external_account_id
from eventledger_projections.elasticsearch.bulk import fetch
from eventledger_projections.elasticsearch.documents import HolderNames, TransferState

EXTERNAL_HOLDER_NAME = "external account"

_external_account = lru_cache(maxsize=256)(external_account_id)


NAME_LIFETIME = 30.0
"""Seconds a cached holder name is trusted."""


class HolderNameCache:
    """A bounded least-recently-used map of account id to holder name, each entry trusted for ``lifetime``
    seconds."""

    def __init__(
        self, capacity: int = 100_000, *, lifetime: float = NAME_LIFETIME, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = capacity
        self.lifetime = lifetime
        self._clock = clock
        self._names: OrderedDict[UUID, tuple[str, float]] = OrderedDict()

    def get(self, account_id: UUID) -> str | None:
        entry = self._names.get(account_id)
        if entry is None:
            return None
        if self._clock() - entry[1] >= self.lifetime:
            del self._names[account_id]
            return None
        self._names.move_to_end(account_id)
        return entry[0]

    def put(self, account_id: UUID, name: str) -> None:
        self._names[account_id] = (name, self._clock())
        self._names.move_to_end(account_id)
        while len(self._names) > self._capacity:
            self._names.popitem(last=False)

    def __len__(self) -> int:
        return len(self._names)


class HolderLookup:
    """Answers the names known for transfers' sides: the cache, the external account rule, then one ``mget``."""

    def __init__(self, es: Elasticsearch, cache: HolderNameCache | None = None) -> None:
        self._es = es
        self.cache = cache or HolderNameCache()

    def names_for(
        self, index: str, states: Iterable[TransferState], *, before_read: Callable[[], None] | None = None
    ) -> dict[UUID, HolderNames]:
        """For each state's transfer, the names known now (None for a side not opened, as far as ``index`` knows);
        ``before_read`` is called before the index is read (when the cache does not know every name)."""
        found: dict[UUID, HolderNames] = {}
        incomplete: list[TransferState] = []
        for state in states:
            names = HolderNames(
                self._known(state.from_account_id, state.currency), self._known(state.to_account_id, state.currency)
            )
            found[state.transfer_id] = names
            if names.from_name is None or names.to_name is None:
                incomplete.append(state)
        if incomplete:
            if before_read is not None:
                before_read()
            unknown = {
                account
                for state in incomplete
                for account in (state.from_account_id, state.to_account_id)
                if self._known(account, state.currency) is None
            }
            self._fetch(index, unknown)
            for state in incomplete:
                found[state.transfer_id] = HolderNames(
                    self._known(state.from_account_id, state.currency),
                    self._known(state.to_account_id, state.currency),
                )
        return found

    def _known(self, account_id: UUID, currency: str) -> str | None:
        if account_id == _external_account(currency):
            return EXTERNAL_HOLDER_NAME
        return self.cache.get(account_id)

    def _fetch(self, index: str, account_ids: set[UUID]) -> None:
        found = fetch(self._es, index, [str(a) for a in account_ids], source_includes=["holder_name"])
        for doc in found.values():
            self.cache.put(UUID(doc.doc_id), doc.source["holder_name"])
