"""Sealing personal data right before an append (crypto-shredding, issue 12): the domain decides on plaintext, the
event store, Kafka and the snapshots only ever receive sealed values.

Each personal field an event's contract marks (``PERSONAL_FIELDS``) is sealed under the data keys of the accounts it
is about (``PERSONAL_SUBJECTS``): an account's key is made on its first personal value. A value already sealed (a
pending transfer's description, carried from the loaded state into the legs of its posting) is kept as it is. An
erased account gets no key any more, so a command that would record personal data about it is refused
(:class:`~eventledger_runtime.personal.SubjectErased`, answered 410); one without personal data (a deposit with no
description) goes through.

Keys are kept in memory for ``ttl`` seconds (a transfer seals three events about the same two accounts: without
it, six key-store queries per command). This process's own erasures evict at once; an erasure made by another
replica is seen here within ``ttl``. Until then this replica may still seal a value with the destroyed key, which
no reader can ever open: the value is erased as it is written, and only the 410 comes late.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from eventledger_command.domain import Decision
from eventledger_events.personal import DataKey, seal_event
from eventledger_runtime.personal import DataKeyStore

DEFAULT_TTL = 30.0
DEFAULT_SIZE = 10_000


class PersonalDataSealer:
    """Seals a decision's personal fields with the keys of ``keys`` (which its owner closes)."""

    def __init__(
        self,
        keys: DataKeyStore,
        *,
        ttl: float = DEFAULT_TTL,
        size: int = DEFAULT_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = keys
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, DataKey]] = OrderedDict()
        self._lock = threading.Lock()

    def seal(self, decision: Decision) -> Decision:
        """``decision`` with every personal field sealed; the same decision when it holds none to seal."""
        sealed = {stream: [seal_event(event, self.key_for) for event in events] for stream, events in decision}
        if all(
            new is old
            for (_, events), new_events in zip(decision, sealed.values(), strict=True)
            for new, old in zip(new_events, events, strict=True)
        ):
            return decision
        return Decision.of(sealed, new_streams=sorted(decision.new_streams))

    def key_for(self, subject: str) -> DataKey:
        """The subject's key, from memory when found there less than ``ttl`` seconds ago."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(subject)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
        key = self.keys.key_for(subject)
        with self._lock:
            self._cache[subject] = (now, key)
            self._cache.move_to_end(subject)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return key

    def forget(self, subject: str) -> None:
        """The subject was erased here: never seal with its key again."""
        with self._lock:
            self._cache.pop(subject, None)
