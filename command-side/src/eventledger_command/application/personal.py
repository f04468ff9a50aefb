"""Sealing personal data right before an append (crypto-shredding, issue 12): the domain decides on plaintext, the
event store, Kafka and the snapshots only ever receive sealed values.

Each personal field an event's contract marks (``PERSONAL_FIELDS``) is sealed under the data keys of the accounts it
is about (``PERSONAL_SUBJECTS``): an account's key is made on its first personal value. A value already sealed (a
pending transfer's description, carried from the loaded state into the legs of its posting) is kept as it is. An
erased account gets no key any more, so a command that would record personal data about it is refused
(:class:`~eventledger_runtime.personal.SubjectErased`, answered 410); one without personal data (a deposit with no
description) goes through.
"""

from __future__ import annotations

from eventledger_command.domain import Decision
from eventledger_events.personal import seal_event
from eventledger_runtime.personal import DataKeyStore


class PersonalDataSealer:
    """Seals a decision's personal fields with the keys of ``keys`` (which its owner closes)."""

    def __init__(self, keys: DataKeyStore) -> None:
        self.keys = keys

    def seal(self, decision: Decision) -> Decision:
        """``decision`` with every personal field sealed; the same decision when it holds none to seal."""
        sealed = {stream: [seal_event(event, self.keys.key_for) for event in events] for stream, events in decision}
        if all(
            new is old
            for (_, events), new_events in zip(decision, sealed.values(), strict=True)
            for new, old in zip(new_events, events, strict=True)
        ):
            return decision
        return Decision.of(sealed, new_streams=sorted(decision.new_streams))
