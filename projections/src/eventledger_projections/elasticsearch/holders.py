"""Holder names for transfer documents: a lookup index fed by ``account.opened``, read by id, with a local cache.

A holder's name never changes once the account is opened (no event renames an account), so a name, once known,
can be cached without ever being stale, whatever the index version. Reads by id (``mget``) are real-time in
Elasticsearch: a holder document is visible to them as soon as its bulk request returned, without a refresh.
The currency's external account (the other side of deposits and withdrawals) has no ``account.opened``; it is
named :data:`EXTERNAL_HOLDER_NAME` without a lookup.
"""

from __future__ import annotations

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


class HolderNameCache:
    """A bounded least-recently-used map of account id to holder name."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._names: OrderedDict[UUID, str] = OrderedDict()

    def get(self, account_id: UUID) -> str | None:
        name = self._names.get(account_id)
        if name is not None:
            self._names.move_to_end(account_id)
        return name

    def put(self, account_id: UUID, name: str) -> None:
        self._names[account_id] = name
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
