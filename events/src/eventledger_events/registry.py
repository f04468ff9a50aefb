"""The registry of event models by (type, version), and of the upcasters between versions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from eventledger_events.base import DomainEvent
from eventledger_events.errors import MissingUpcasterError, UnknownEventTypeError, UnknownSchemaVersionError

Upcaster = Callable[[Mapping[str, Any]], dict[str, Any]]
"""Turns a JSON-shaped payload of version N into version N+1 of the same event type."""


class EventRegistry:
    """Maps ``(event_type, schema_version)`` to its model class, and upcasts old payloads on read.

    Contract:
    - the current version of an event type is the highest registered version of it;
    - every older version that can be met in stored data has an upcaster chain up to the current version
      (``check_upcaster_chains`` verifies this), registered per ``(event_type, from_version)``;
    - ``payload_from_dict`` always answers with a model of the current version.
    """

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._current: dict[str, int] = {}
        """The highest registered version of each event type (read for every event decoded)."""

    def register(self, model: type[DomainEvent]) -> None:
        """Register an event model under its ``EVENT_TYPE`` and ``SCHEMA_VERSION``; each pair only once."""
        key = (model.EVENT_TYPE, model.SCHEMA_VERSION)
        if key in self._models:
            raise ValueError(f"{model.full_name()} is already registered")
        if model.SCHEMA_VERSION < 1:
            raise ValueError(f"{model.full_name()}: schema versions start at 1")
        self._models[key] = model
        self._current[model.EVENT_TYPE] = max(self._current.get(model.EVENT_TYPE, 0), model.SCHEMA_VERSION)

    def register_upcaster(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Register the step from ``from_version`` to ``from_version + 1`` of ``event_type``."""
        key = (event_type, from_version)
        if key in self._upcasters:
            raise ValueError(f"an upcaster from {event_type}.v{from_version} is already registered")
        self._upcasters[key] = upcaster

    def event_types(self) -> tuple[str, ...]:
        """Every registered event type name, sorted."""
        return tuple(sorted({event_type for event_type, _ in self._models}))

    def models(self) -> tuple[type[DomainEvent], ...]:
        """Every registered model, current and legacy, sorted by type then version."""
        return tuple(self._models[key] for key in sorted(self._models))

    def current_models(self) -> tuple[type[DomainEvent], ...]:
        """The current-version model of every event type, sorted by type."""
        return tuple(self.current_model(event_type) for event_type in self.event_types())

    def current_version(self, event_type: str) -> int:
        """The highest registered schema version of ``event_type``."""
        version = self._current.get(event_type)
        if version is None:
            raise UnknownEventTypeError(event_type)
        return version

    def current_model(self, event_type: str) -> type[DomainEvent]:
        """The model class of the current version of ``event_type``."""
        return self._models[(event_type, self.current_version(event_type))]

    def model_for(self, event_type: str, version: int) -> type[DomainEvent]:
        """The model class registered for exactly this type and version."""
        model = self._models.get((event_type, version))
        if model is not None:
            return model
        if event_type not in self.event_types():
            raise UnknownEventTypeError(event_type)
        raise UnknownSchemaVersionError(f"{event_type}.v{version}")

    def upcast(self, event_type: str, version: int, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Bring a JSON-shaped payload of ``version`` to the current version by running the upcaster chain."""
        current = self.current_version(event_type)
        if version > current or version < 1:
            raise UnknownSchemaVersionError(f"{event_type}.v{version} (current is v{current})")
        data = dict(payload)
        for step in range(version, current):
            upcaster = self._upcasters.get((event_type, step))
            if upcaster is None:
                raise MissingUpcasterError(f"no upcaster from {event_type}.v{step} to v{step + 1}")
            data = upcaster(data)
        return data

    def payload_from_dict(self, event_type: str, version: int, payload: Mapping[str, Any]) -> DomainEvent:
        """Validate a payload written at ``version`` and answer it as the current version's model.

        When a model of the older version is registered, the data is validated against it first, so that bad
        data is reported against the schema it was written with.
        """
        current_model = self.current_model(event_type)
        if version == current_model.SCHEMA_VERSION:
            return current_model.model_validate(payload)
        old_model = self._models.get((event_type, version))
        data: Mapping[str, Any] = payload
        if old_model is not None:
            data = old_model.model_validate(payload).model_dump(mode="json")
        return current_model.model_validate(self.upcast(event_type, version, data))

    def check_upcaster_chains(self) -> None:
        """Raise ``MissingUpcasterError`` unless every registered older version can reach the current one."""
        for event_type, version in self._models:
            current = self.current_version(event_type)
            for step in range(version, current):
                if (event_type, step) not in self._upcasters:
                    raise MissingUpcasterError(f"no upcaster from {event_type}.v{step} to v{step + 1}")
