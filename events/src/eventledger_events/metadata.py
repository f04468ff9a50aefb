"""Who and what caused an event: passed by command handlers, copied into every envelope they append."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints


class EventMetadata(BaseModel):
    """The causal context of a command.

    - ``actor``: who asked (e.g. the JWT subject, or ``"system:expiry"`` for automatic work);
    - ``correlation_id``: shared by every event of one business conversation (usually the request id);
    - ``causation_id``: the id of the event that caused this command, or ``None`` when a client command did.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: Annotated[str, StringConstraints(min_length=1)]
    correlation_id: UUID
    causation_id: UUID | None = None

    def caused_by(self, event_id: UUID, *, actor: str | None = None) -> EventMetadata:
        """Metadata for work triggered by event ``event_id``: same correlation, that event as the cause."""
        return EventMetadata(
            actor=actor or self.actor,
            correlation_id=self.correlation_id,
            causation_id=event_id,
        )
