"""The data-key store in memory, for unit tests: keys wrapped exactly as the PostgreSQL store wraps them."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from eventledger_events.personal import DataKey
from eventledger_runtime.personal.port import (
    DataKeyStore,
    Erasure,
    KeyEncryptionKeys,
    SubjectErased,
    UnknownDataKey,
)


@dataclass
class _Entry:
    key_id: str
    subject: str
    kek: str | None
    wrapped: bytes | None
    erasure: Erasure | None = None


class InMemoryDataKeyStore(DataKeyStore):
    """``shared``: another store's entries (a second process on the same database); its own KEKs."""

    def __init__(self, keks: KeyEncryptionKeys, shared: InMemoryDataKeyStore | None = None) -> None:
        self._keks = keks
        self._lock: threading.Lock = shared._lock if shared else threading.Lock()
        self._by_subject: dict[str, _Entry] = shared._by_subject if shared else {}
        self._by_id: dict[str, _Entry] = shared._by_id if shared else {}

    def key_for(self, subject: str) -> DataKey:
        with self._lock:
            entry = self._by_subject.get(subject)
            if entry is None:
                key = DataKey.generate(subject)
                kek, wrapped = self._keks.wrap(key)
                entry = _Entry(key.key_id, subject, kek, wrapped)
                self._by_subject[subject] = self._by_id[key.key_id] = entry
            if entry.wrapped is None or entry.kek is None:
                raise SubjectErased(subject)
            return self._keks.unwrap(entry.key_id, subject, entry.kek, entry.wrapped)

    def keys(self, key_ids: Iterable[str]) -> dict[str, DataKey | None]:
        found: dict[str, DataKey | None] = {}
        with self._lock:
            for key_id in key_ids:
                entry = self._by_id.get(key_id)
                if entry is None:
                    raise UnknownDataKey(key_id)
                found[key_id] = (
                    None
                    if entry.wrapped is None or entry.kek is None
                    else self._keks.unwrap(key_id, entry.subject, entry.kek, entry.wrapped)
                )
        return found

    def erase(self, subject: str, *, erased_by: str, reason: str) -> Erasure:
        with self._lock:
            entry = self._by_subject.get(subject)
            if entry is None:
                entry = _Entry(DataKey.generate(subject).key_id, subject, None, None)
                self._by_subject[subject] = self._by_id[entry.key_id] = entry
            if entry.erasure is None:
                entry.kek = entry.wrapped = None
                entry.erasure = Erasure(subject, entry.key_id, datetime.now(UTC), erased_by, reason)
            return entry.erasure

    def erasure(self, subject: str) -> Erasure | None:
        with self._lock:
            entry = self._by_subject.get(subject)
            return None if entry is None else entry.erasure

    def rewrap(self) -> int:
        moved = 0
        with self._lock:
            for entry in self._by_subject.values():
                if entry.wrapped is None or entry.kek is None or entry.kek == self._keks.current_id:
                    continue
                key = self._keks.unwrap(entry.key_id, entry.subject, entry.kek, entry.wrapped)
                entry.kek, entry.wrapped = self._keks.wrap(key)
                moved += 1
        return moved
