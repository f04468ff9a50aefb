"""What a domain service decided: the events to append, by stream, in one atomic append."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from eventledger_events.base import DomainEvent


@dataclass(frozen=True, slots=True)
class Decision:
    """Events to append together, all or none, grouped by stream id (in a stable order).

    ``new_streams`` are the streams this decision creates: the application must append to them expecting no
    prior event (so that a duplicate id is a conflict, never a silent merge). For every other stream it expects
    the version it loaded the state at.
    """

    events_by_stream: Mapping[str, tuple[DomainEvent, ...]]
    new_streams: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, events_by_stream: Mapping[str, Sequence[DomainEvent]], new_streams: Sequence[str] = ()) -> Decision:
        """A decision from plain sequences; streams without events are left out."""
        unknown = set(new_streams) - set(events_by_stream)
        if unknown:
            raise ValueError(f"new streams without events: {sorted(unknown)}")
        return cls(
            events_by_stream=MappingProxyType(
                {stream: tuple(events) for stream, events in events_by_stream.items() if events}
            ),
            new_streams=frozenset(new_streams),
        )

    @property
    def stream_ids(self) -> tuple[str, ...]:
        """The streams written, in append order."""
        return tuple(self.events_by_stream)

    def events_for(self, stream_id: str) -> tuple[DomainEvent, ...]:
        """The events decided for one stream (empty if none)."""
        return self.events_by_stream.get(stream_id, ())

    def __iter__(self) -> Iterator[tuple[str, tuple[DomainEvent, ...]]]:
        """``(stream_id, events)`` pairs in append order."""
        return iter(self.events_by_stream.items())

    def as_dict(self) -> dict[str, list[DomainEvent]]:
        """A plain ``{stream_id: [events]}`` copy."""
        return {stream: list(events) for stream, events in self.events_by_stream.items()}
