"""The event-log reader port: how every reader of the global log (the relay, rebuilds, the projection helpers, the
audit endpoints) reads it, finds how far it may read, and keeps its place.

Both backends pass the same contract suite (tests/contract/test_event_log_reader_contract.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection

from eventledger_runtime.eventlog.records import LoggedEvent

RELAY_CHECKPOINT = "kafka-relay"
"""The checkpoint the relay saves once Kafka acknowledged every event at or below it."""


class Deposed(Exception):
    """A fenced checkpoint save named a term that is no longer the checkpoint's: another leader took office since.
    The caller must stop acting as leader at once (docs/adr/0016-relay-leader-election-and-fencing.md)."""

    def __init__(self, name: str, term: int) -> None:
        super().__init__(f"checkpoint {name!r}: term {term} is over, another leader took office")
        self.name = name
        self.term = term


class EventLogReader(ABC):
    """Reads the global log of the event store: every recorded event, in one order of increasing positions.

    Contract:
    - Positions are unique and increasing, with holes where an append failed. Transactions may commit out of
      position order, so a position may be *undecided* for a while: not visible yet, while a later one is.
    - A position is *settled* when nothing at or below it can still appear. ``safe_head()`` is the one rule for
      a settled bound: it answers a position at or above every event committed before the call, and waits (up to
      ``timeout``, then ``TimeoutError``) until every position at or below it is decided. A checkpoint saved after
      ``read`` returned events up to a position is settled too.
    - ``read`` (the tail of the log) never skips an event: it returns events in position order and only as far as
      no earlier position can still appear. It waits (up to ``wait``) for an undecided position rather than step
      over it; then it returns what it has, possibly nothing. A position whose append rolled back is skipped once
      it is decided.
    - ``read_range`` reads ``after < position <= upto`` in position order, optionally only ``event_types``, and
      does not wait. ``upto`` must be settled (see above): then nothing is skipped, filtered or not.
    - ``head_position`` is the highest recorded position, settled or not (0 when the log is empty): for lag and
      progress, never as a read bound.
    - Checkpoints are named positions. ``checkpoint`` answers the last position saved under a name (0 if none, or
      while the event store has no checkpoint table yet); ``save_checkpoint`` is durable when it returns and never
      moves a checkpoint backwards.
    - A checkpoint may be *fenced* for a reader that runs as one leader among standbys: ``take_office`` gives the
      caller a new term (one above every term given before under that name, atomically) and the position saved; a
      save that names a term moves the checkpoint only while that term is still the checkpoint's, in the same
      statement, and otherwise raises :class:`Deposed` and changes nothing.
    - ``rewind_checkpoint`` is the one way back: it sets the position and starts a new term in one statement, so a
      leader still holding the old term is deposed at its next save and its successor resumes from there.
    """

    @abstractmethod
    def read(self, after: int = 0, *, limit: int = 1000, wait: float = 1.0) -> list[LoggedEvent]:
        """Up to ``limit`` events with position > ``after``, gap-safe (see the class contract)."""

    @abstractmethod
    def read_range(
        self, after: int, upto: int, *, limit: int, event_types: Collection[str] | None = None
    ) -> list[LoggedEvent]:
        """Up to ``limit`` events with ``after < position <= upto`` (a settled ``upto``), in position order."""

    @abstractmethod
    def count(self, after: int, upto: int, *, event_types: Collection[str] | None = None) -> int:
        """How many events ``read_range`` would return for ``after < position <= upto`` without a limit."""

    @abstractmethod
    def head_position(self) -> int:
        """The highest recorded position, settled or not (0 for an empty log)."""

    @abstractmethod
    def safe_head(self, *, timeout: float = 60.0) -> int:
        """A settled position at or above every event committed before the call (0 for an empty log)."""

    @abstractmethod
    def checkpoint(self, name: str) -> int:
        """The position last saved under ``name`` (0 if none)."""

    @abstractmethod
    def save_checkpoint(self, name: str, position: int, *, term: int | None = None) -> None:
        """Save ``position`` under ``name`` unless a later position is saved there already. With ``term``, only while
        ``term`` is the checkpoint's current term; otherwise raise :class:`Deposed` and save nothing."""

    @abstractmethod
    def take_office(self, name: str) -> tuple[int, int]:
        """Start a new term for checkpoint ``name`` (creating it at 0 if absent): answers ``(term, position)``. Every
        save under an earlier term fails from now on. Call it only while holding the leadership of ``name``."""

    @abstractmethod
    def rewind_checkpoint(self, name: str, position: int = 0) -> int:
        """Move checkpoint ``name`` back to ``position`` (republishing after Kafka lost its topics) and start a new
        term, deposing the leader that holds the old one; answers the position it was at (0 if none was saved)."""

    def close(self) -> None:  # noqa: B027 - backends without resources need not override
        """Release connections."""
