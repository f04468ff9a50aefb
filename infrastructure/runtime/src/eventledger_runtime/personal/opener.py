"""The readers' one opener of personal fields: every projector, every rebuild and the audit API open sealed values
through it, right where a payload is decoded.

Opening is the pure :func:`eventledger_events.personal.open_event` over a key lookup that keeps the data keys it
found in memory (at most ``cache_size``, least recently used first out). A destroyed key reads ``None``, so the
values it sealed read :data:`~eventledger_events.personal.ERASED`. The cache never serves a destroyed key after the
reader has seen the erasure: an ``account.personal_data_erased`` event evicts its key (and remembers it destroyed).
Before that event a reader may still open what it reads; the read models drop it when they apply the erasure.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from eventledger_events import AccountPersonalDataErased, EventEnvelope, model_for
from eventledger_events.personal import DataKey, is_sealed, key_id_of, open_event, open_fields
from eventledger_runtime.personal.port import DataKeyStore, UnknownDataKey
from eventledger_runtime.personal.postgres import PostgresDataKeyStore

Opener = Callable[[EventEnvelope], EventEnvelope]
"""Opens an envelope's personal fields."""


class PersonalDataOpener:
    """Opens the personal fields of decoded events with the keys of ``keys`` (which the caller closes), or of the
    store ``keys()`` makes when a first sealed value needs a key (a reader of events without one connects nowhere)."""

    def __init__(self, keys: DataKeyStore | Callable[[], DataKeyStore], *, cache_size: int = 100_000) -> None:
        self._store: DataKeyStore | None = keys if isinstance(keys, DataKeyStore) else None
        self._make = keys if not isinstance(keys, DataKeyStore) else None
        self._size = cache_size
        self._cache: OrderedDict[str, DataKey | None] = OrderedDict()
        self._destroyed: set[str] = set()
        """Keys seen erased: a lookup that began before the erasure never puts one back."""
        self._lock = threading.Lock()

    def lookup(self, key_id: str) -> DataKey | None:
        """The data key ``key_id`` (``None``: destroyed); :class:`~.port.UnknownDataKey` for an id never held."""
        with self._lock:
            if key_id in self._cache:
                self._cache.move_to_end(key_id)
                return self._cache[key_id]
        key = self._keys().keys([key_id])[key_id]
        self._remember(key_id, key)
        return key

    def close(self) -> None:
        """Close a store this opener made (a given one stays its owner's)."""
        if self._make is not None and self._store is not None:
            self._store.close()
            self._store = None

    def _keys(self) -> DataKeyStore:
        with self._lock:
            if self._store is None:
                assert self._make is not None
                self._store = self._make()
            return self._store

    def prefetch(self, key_ids: Iterable[str]) -> None:
        """Find the keys not in the cache in one query (a page of a rebuild): each is remembered, unknown ids are
        left for :meth:`lookup` to refuse."""
        with self._lock:
            missing = [key_id for key_id in dict.fromkeys(key_ids) if key_id not in self._cache]
        if not missing:
            return
        store = self._keys()
        try:
            found = store.keys(missing)
        except UnknownDataKey:
            return
        for key_id, key in found.items():
            self._remember(key_id, key)

    def open_all(self, envelopes: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        """Each envelope opened (:meth:`__call__`), the outer layers' keys found first in one query."""
        self.prefetch(
            key_id_of(value)
            for envelope in envelopes
            for name in envelope.payload.PERSONAL_FIELDS
            if is_sealed(value := getattr(envelope.payload, name))
        )
        return [self(envelope) for envelope in envelopes]

    def forget(self, key_id: str) -> None:
        """``key_id`` was destroyed: never serve it again."""
        with self._lock:
            self._destroyed.add(key_id)
        self._remember(key_id, None)

    def __call__(self, envelope: EventEnvelope) -> EventEnvelope:
        """``envelope`` with its payload's personal fields opened (the same object when it has none)."""
        payload = envelope.payload
        if isinstance(payload, AccountPersonalDataErased):
            self.forget(payload.key_id)
            return envelope
        if not payload.PERSONAL_FIELDS:
            return envelope
        opened = open_event(payload, self.lookup)
        return envelope if opened is payload else envelope.model_copy(update={"payload": opened})

    def open_data(self, event_type: str, version: int, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """A stored payload's plain data (its JSON, not decoded into a model) with its personal fields opened."""
        if event_type == AccountPersonalDataErased.EVENT_TYPE:
            self.forget(str(data["key_id"]))
            return data
        fields = model_for(event_type, version).PERSONAL_FIELDS
        return open_fields(fields, data, self.lookup) if fields else data

    def _remember(self, key_id: str, key: DataKey | None) -> None:
        with self._lock:
            if key is not None and key_id in self._destroyed:
                key = None
            self._cache[key_id] = key
            self._cache.move_to_end(key_id)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)


def unopened(envelope: EventEnvelope) -> EventEnvelope:
    """The opener of a reader that is given no keys: sealed values stay sealed."""
    return envelope


_BY_DSN: dict[str, PersonalDataOpener] = {}
_BY_DSN_LOCK = threading.Lock()


def opener_for(dsn: str) -> PersonalDataOpener:
    """The process's one opener for the keys in the database of ``dsn`` (with the key-encryption keys of the
    settings, read when a first sealed value needs a key): every reader of that database shares its cache, so an
    erasure one reader sees is seen by all."""
    with _BY_DSN_LOCK:
        opener = _BY_DSN.get(dsn)
        if opener is None:
            from eventledger_runtime.settings import PersonalDataSettings  # the settings import this package

            settings = PersonalDataSettings()
            opener = PersonalDataOpener(
                lambda: PostgresDataKeyStore(dsn, settings.keks(), name="data-keys-reader"),
                cache_size=settings.key_cache_size,
            )
            _BY_DSN[dsn] = opener
        return opener


def opener_of_log(log: object) -> Opener:
    """The opener for a reader of the event log ``log``: the keys of its database (when it has a ``dsn``)."""
    dsn = getattr(log, "dsn", None)
    return opener_for(dsn) if isinstance(dsn, str) else unopened
