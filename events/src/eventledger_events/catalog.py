"""The catalogue of every EventLedger event: the default registry and shortcuts to it.

Importing this module builds the registry in memory only; it touches no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventledger_events.account_events import ACCOUNT_EVENT_TYPES
from eventledger_events.base import DomainEvent
from eventledger_events.legacy import LEGACY_EVENT_TYPES
from eventledger_events.registry import EventRegistry
from eventledger_events.transfer_events import TRANSFER_EVENT_TYPES
from eventledger_events.upcasters import account_opened_v1_to_v2, movement_v1_to_v2


def build_event_registry() -> EventRegistry:
    """A new registry holding every current and legacy event model and every upcaster."""
    registry = EventRegistry()
    for model in (*ACCOUNT_EVENT_TYPES, *TRANSFER_EVENT_TYPES, *LEGACY_EVENT_TYPES):
        registry.register(model)
    registry.register_upcaster("account.opened", 1, account_opened_v1_to_v2)
    for movement in ("account.credited", "account.debited", "transfer.posted"):
        registry.register_upcaster(movement, 1, movement_v1_to_v2)
    registry.check_upcaster_chains()
    return registry


EVENT_REGISTRY = build_event_registry()
"""The registry every EventLedger component uses."""


def payload_from_dict(event_type: str, version: int, data: Mapping[str, Any]) -> DomainEvent:
    """Validate a payload stored at ``version`` and answer it upcast to the current version."""
    return EVENT_REGISTRY.payload_from_dict(event_type, version, data)


def current_version(event_type: str) -> int:
    """The current schema version of ``event_type``."""
    return EVENT_REGISTRY.current_version(event_type)


def model_for(event_type: str, version: int) -> type[DomainEvent]:
    """The model registered for exactly this type and version (legacy versions included)."""
    return EVENT_REGISTRY.model_for(event_type, version)
