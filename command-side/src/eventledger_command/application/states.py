"""The last folded state of each recently used stream, kept in the process (issue 11 item 1, ADR 0038).

Loading an account replays the events after its snapshot (up to ``snapshot_interval - 1`` of them) on every
command; remembering the state the last append produced leaves only the events after it to read, which on a single
replica is none. The store stays the truth: a remembered state is a starting point, never an answer. A load always
reads the stream's events after the remembered version (another replica may have appended), and the append's
expected version still refuses a decision taken on stale state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from eventledger_command.domain import Account, Transfer

# Enough for every account a busy replica touches within seconds; a state costs about a kilobyte.
DEFAULT_CAPACITY = 10_000


@dataclass(frozen=True, slots=True)
class Remembered:
    """A stream's state folded up to and including ``version`` (both immutable)."""

    state: Account | Transfer
    version: int


class RememberedStates:
    """A bounded, thread-safe map from stream id to its last known state, least recently used evicted first.

    Contract: ``remember`` keeps a state only if it is newer than the one already kept (two threads appending to
    one stream in turn may report out of order); ``forget`` drops a stream's state (after a failed append, or when
    an erasure changes what the state may hold). A capacity of 0 keeps nothing.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be at least 0, not {capacity}")
        self._capacity = capacity
        self._states: OrderedDict[str, Remembered] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, stream_id: str) -> Remembered | None:
        with self._lock:
            remembered = self._states.get(stream_id)
            if remembered is not None:
                self._states.move_to_end(stream_id)
            return remembered

    def remember(self, stream_id: str, state: Account | Transfer, version: int) -> None:
        if self._capacity == 0:
            return
        with self._lock:
            known = self._states.get(stream_id)
            if known is not None and known.version >= version:
                return
            self._states[stream_id] = Remembered(state, version)
            self._states.move_to_end(stream_id)
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)

    def forget(self, stream_id: str) -> None:
        with self._lock:
            self._states.pop(stream_id, None)
