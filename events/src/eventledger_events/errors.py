"""Errors raised when data does not honour the event contracts."""

from __future__ import annotations


class EventContractError(Exception):
    """Base of every error about event types, versions, schemas or encodings."""


class UnknownEventTypeError(EventContractError, LookupError):
    """No event model is registered under this event type name."""


class UnknownSchemaVersionError(EventContractError, LookupError):
    """The event type is known, but not at this schema version (e.g. newer than this code)."""


class MissingUpcasterError(EventContractError, LookupError):
    """An older schema version cannot reach the current one: a step of the upcaster chain is missing."""


class UnknownSchemaFingerprintError(EventContractError, LookupError):
    """An Avro single-object message names a schema fingerprint that no registered event has."""


class MalformedMessageError(EventContractError, ValueError):
    """Bytes or headers that are not a well-formed EventLedger message."""
