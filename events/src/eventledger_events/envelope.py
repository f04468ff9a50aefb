"""The envelope: one event payload plus everything the log records about it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, StringConstraints, model_validator

from eventledger_events.base import DomainEvent
from eventledger_events.metadata import EventMetadata
from eventledger_events.streams import stream_category
from eventledger_events.values import UtcDateTime


class EventEnvelope(BaseModel):
    """An event as recorded in the log.

    Contract:
    - ``event_type`` and ``schema_version`` are those of ``payload`` (after upcasting, when read back);
    - ``stream_id`` is ``"<category>-<uuid>"`` and its category is the payload's category;
    - ``stream_version`` counts from 1 within the stream, without gaps;
    - ``position`` (global log order) and ``recorded_at`` are ``None`` until the event store has appended the
      event; then both are set (see ``recorded``);
    - all instants are timezone-aware UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_type: Annotated[str, StringConstraints(min_length=1)]
    schema_version: Annotated[int, Field(ge=1)]
    stream_id: str
    stream_version: Annotated[int, Field(ge=1)]
    position: Annotated[int, Field(ge=0)] | None = None
    occurred_at: UtcDateTime
    recorded_at: UtcDateTime | None = None
    actor: Annotated[str, StringConstraints(min_length=1)]
    correlation_id: UUID
    causation_id: UUID | None = None
    payload: SerializeAsAny[DomainEvent]

    @model_validator(mode="after")
    def _payload_matches_envelope(self) -> Self:
        if (self.event_type, self.schema_version) != (self.payload.EVENT_TYPE, self.payload.SCHEMA_VERSION):
            raise ValueError(
                f"envelope says {self.event_type}.v{self.schema_version} but the payload is {self.payload.full_name()}"
            )
        if stream_category(self.stream_id) != self.payload.category():
            raise ValueError(f"a {self.payload.category()} event cannot live in stream {self.stream_id}")
        return self

    @classmethod
    def new(
        cls,
        payload: DomainEvent,
        *,
        event_id: UUID,
        stream_id: str,
        stream_version: int,
        occurred_at: datetime,
        metadata: EventMetadata,
    ) -> EventEnvelope:
        """An envelope ready to append (no position yet)."""
        return cls(
            event_id=event_id,
            event_type=payload.EVENT_TYPE,
            schema_version=payload.SCHEMA_VERSION,
            stream_id=stream_id,
            stream_version=stream_version,
            occurred_at=occurred_at,
            actor=metadata.actor,
            correlation_id=metadata.correlation_id,
            causation_id=metadata.causation_id,
            payload=payload,
        )

    def recorded(self, *, position: int, recorded_at: datetime) -> EventEnvelope:
        """A copy as appended by the event store, at global ``position``."""
        return self.model_validate({**dict(self), "position": position, "recorded_at": recorded_at})

    @property
    def metadata(self) -> EventMetadata:
        """The causal context this event was appended with."""
        return EventMetadata(actor=self.actor, correlation_id=self.correlation_id, causation_id=self.causation_id)

    @property
    def full_event_type(self) -> str:
        """The versioned name, e.g. ``"account.opened.v2"``."""
        return f"{self.event_type}.v{self.schema_version}"
