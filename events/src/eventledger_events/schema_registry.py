"""The schema registry port, the subjects our schemas live under, and the Confluent wire format (ADR 0028).

Wire format (Confluent's, read by every Confluent-compatible client, kcat with Avro support included): the magic
byte ``00``, the writer schema's registry id as a 4-byte big-endian integer, then the Avro binary body.

Subjects: ``<topic>-<event type>`` (``eventledger.accounts.v2-account.opened``). It is Confluent's
TopicRecordNameStrategy with our stable event type in place of the Avro record name: our record names carry the
schema version (``AccountOpenedV2``), so the record name would give each version a subject of its own and the
registry's compatibility check would never compare a new version with the old ones.
"""

from __future__ import annotations

import json
from typing import Final, Protocol

CONFLUENT_MAGIC: Final = b"\x00"
SCHEMA_ID_LENGTH: Final = 4
CONFLUENT_HEADER_LENGTH: Final = len(CONFLUENT_MAGIC) + SCHEMA_ID_LENGTH

COMPATIBILITY_LEVEL: Final = "BACKWARD_TRANSITIVE"
"""Every subject's compatibility level: a new version must read data written with every earlier one, because a
projector replays a topic from its beginning (ADR 0028)."""


class SchemaRegistryUnavailableError(Exception):
    """The registry cannot be asked now (down, timing out, answering 5xx). Not a fault of the message being read:
    a consumer retries later and never parks the message for it. Deliberately not an ``EventContractError``."""


class SchemaRegistry(Protocol):
    """A Confluent-compatible schema registry, as far as EventLedger uses one.

    Contract:
    - ``register`` is idempotent: registering a schema the subject already has answers the id it has; the id of a
      schema never changes, across restarts of the registry included (ids live on in Kafka messages);
    - ``schema`` answers the schema text registered under an id; ``LookupError`` for an id the registry never gave;
    - ``compatible`` asks the registry whether ``schema`` may be registered next under ``subject`` (its
      compatibility level decides); a subject with no versions accepts anything;
    - every method raises :class:`SchemaRegistryUnavailableError` when the registry cannot answer, never another
      error for an outage.
    """

    def register(self, subject: str, schema: str) -> int: ...

    def schema(self, schema_id: int) -> str: ...

    def set_compatibility(self, subject: str, level: str) -> None: ...

    def compatible(self, subject: str, schema: str) -> bool: ...


def subject_for(topic: str, event_type: str) -> str:
    """The subject of an event type's schemas on a topic: ``<topic>-<event type>``."""
    return f"{topic}-{event_type}"


def wire_value(schema_id: int, body: bytes) -> bytes:
    """An Avro body in the Confluent wire format."""
    return CONFLUENT_MAGIC + schema_id.to_bytes(SCHEMA_ID_LENGTH, "big") + body


def is_wire_format(value: bytes) -> bool:
    """Whether ``value`` starts like a Confluent wire-format message (and not an Avro single-object one)."""
    return len(value) >= CONFLUENT_HEADER_LENGTH and value[:1] == CONFLUENT_MAGIC


def schema_id_of(value: bytes) -> int:
    """The schema id of a Confluent wire-format value."""
    return int.from_bytes(value[len(CONFLUENT_MAGIC) : CONFLUENT_HEADER_LENGTH], "big")


class InMemorySchemaRegistry:
    """:class:`SchemaRegistry` in this process's memory: ids from 1 in registration order, one id per distinct schema
    text (as Apicurio gives one per content), compatibility by the local BACKWARD check against every earlier
    version (``BACKWARD_TRANSITIVE``). For tests that need no server, and as the contract suite's reference."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._texts: dict[int, str] = {}
        self._subjects: dict[str, list[int]] = {}
        self.levels: dict[str, str] = {}

    def register(self, subject: str, schema: str) -> int:
        versions = self._subjects.setdefault(subject, [])
        known = self._ids.get(schema)
        if known is not None and known in versions:
            return known
        if not self.compatible(subject, schema):
            raise ValueError(f"the schema is not {COMPATIBILITY_LEVEL} compatible with {subject}'s versions")
        schema_id = known if known is not None else len(self._ids) + 1
        self._ids[schema] = schema_id
        self._texts[schema_id] = schema
        versions.append(schema_id)
        return schema_id

    def schema(self, schema_id: int) -> str:
        try:
            return self._texts[schema_id]
        except KeyError:
            raise LookupError(f"schema id {schema_id}") from None

    def set_compatibility(self, subject: str, level: str) -> None:
        self.levels[subject] = level

    def compatible(self, subject: str, schema: str) -> bool:
        from eventledger_events.compatibility import backward_compatibility_problems

        reader = json.loads(schema)
        return not any(
            backward_compatibility_problems(reader, json.loads(self._texts[old]))
            for old in self._subjects.get(subject, [])
        )
