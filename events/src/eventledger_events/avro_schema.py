"""Avro schemas generated from the pydantic event models.

Naming is stable and independent of Python module paths: ``account.hold_placed`` v1 becomes the record
``eventledger.account.AccountHoldPlacedV1``; a version N > 1 lists the names of versions 1..N-1 as aliases so
generic Avro readers can resolve old data with the new schema.

Supported field types (the ones event payloads use): ``str``, ``int`` (as ``long``), ``bool``, ``UUID``
(``string``/``uuid``), aware ``datetime`` (``long``/``timestamp-micros``), string ``Enum`` (a named Avro
``enum``), ``Literal`` of strings (``string``), and ``X | None`` (a union with ``null``). Anything else raises
``TypeError`` so an unsupported field cannot slip into a published contract.
"""

from __future__ import annotations

import copy
import inspect
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from eventledger_events.base import DomainEvent

AvroSchema = dict[str, Any]
"""A JSON-shaped Avro schema (a record at the top level)."""

AVRO_NAMESPACE_ROOT = "eventledger"

_TIMESTAMP_MICROS = {"type": "long", "logicalType": "timestamp-micros"}
_SIMPLE_TYPES: dict[Any, Any] = {
    bool: "boolean",
    int: "long",
    str: "string",
    UUID: {"type": "string", "logicalType": "uuid"},
    datetime: _TIMESTAMP_MICROS,
    AwareDatetime: _TIMESTAMP_MICROS,
}


def avro_namespace(model: type[DomainEvent]) -> str:
    """``"eventledger.<category>"``."""
    return f"{AVRO_NAMESPACE_ROOT}.{model.category()}"


def avro_record_name(event_type: str, version: int) -> str:
    """``"account.hold_placed"``, 1 → ``"AccountHoldPlacedV1"``."""
    words = event_type.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + f"V{version}"


def avro_full_name(model: type[DomainEvent]) -> str:
    """The record's full name, e.g. ``"eventledger.account.AccountOpenedV2"``."""
    return f"{avro_namespace(model)}.{avro_record_name(model.EVENT_TYPE, model.SCHEMA_VERSION)}"


def avro_schema_for(model: type[DomainEvent]) -> AvroSchema:
    """The Avro record schema of an event model; deterministic for a given model."""
    namespace = avro_namespace(model)
    generator = _FieldTypeGenerator(namespace)
    schema: AvroSchema = {
        "type": "record",
        "name": avro_record_name(model.EVENT_TYPE, model.SCHEMA_VERSION),
        "namespace": namespace,
    }
    if model.SCHEMA_VERSION > 1:
        older_versions = range(1, model.SCHEMA_VERSION)
        schema["aliases"] = [f"{namespace}.{avro_record_name(model.EVENT_TYPE, v)}" for v in older_versions]
    schema["doc"] = _first_paragraph(model)
    schema["fields"] = [generator.field(name, info) for name, info in model.model_fields.items()]
    return schema


def _first_paragraph(model: type[DomainEvent]) -> str:
    doc = inspect.getdoc(model) or model.full_name()
    return doc.split("\n\n", 1)[0].replace("\n", " ")


class _FieldTypeGenerator:
    """Turns field annotations into Avro types; a named type is defined once, then referenced by name."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._defined_names: set[str] = set()

    def field(self, name: str, info: FieldInfo) -> dict[str, Any]:
        """The Avro field of one model field: name, type, default if any, doc if described."""
        annotation = info.annotation
        has_default = info.default is not PydanticUndefined
        if info.default_factory is not None:
            raise TypeError(f"field {name}: default factories cannot be published in Avro; use a default")
        avro_field: dict[str, Any] = {"name": name}
        if _is_optional(annotation):
            inner = self.type_of(_strip_none(annotation), name)
            if has_default and info.default is not None:
                avro_field["type"] = [inner, "null"]
            else:
                avro_field["type"] = ["null", inner]
        else:
            avro_field["type"] = self.type_of(annotation, name)
        if has_default:
            avro_field["default"] = _avro_default(info.default)
        if info.description:
            avro_field["doc"] = info.description
        return avro_field

    def type_of(self, annotation: Any, field_name: str) -> Any:
        """The Avro type of a (non-optional) annotation."""
        if typing.get_origin(annotation) is typing.Annotated:  # ``X | None`` keeps X's metadata: only X counts
            annotation = typing.get_args(annotation)[0]
        if annotation in _SIMPLE_TYPES:
            return copy.deepcopy(_SIMPLE_TYPES[annotation])
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            return self._enum(annotation)
        if typing.get_origin(annotation) is typing.Literal and all(
            isinstance(value, str) for value in typing.get_args(annotation)
        ):
            return "string"
        raise TypeError(f"field {field_name}: no Avro mapping for {annotation!r}")

    def _enum(self, enum_type: type[Enum]) -> Any:
        full_name = f"{self._namespace}.{enum_type.__name__}"
        if full_name in self._defined_names:
            return full_name
        self._defined_names.add(full_name)
        schema: dict[str, Any] = {
            "type": "enum",
            "name": enum_type.__name__,
            "namespace": self._namespace,
            "symbols": [str(member.value) for member in enum_type],
        }
        doc = inspect.getdoc(enum_type)
        if doc:
            schema["doc"] = doc.split("\n\n", 1)[0].replace("\n", " ")
        return schema


def _is_optional(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


def _strip_none(annotation: Any) -> Any:
    remaining = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if len(remaining) != 1:
        raise TypeError(f"only 'X | None' unions are supported, not {annotation!r}")
    return remaining[0]


def _avro_default(value: Any) -> Any:
    if value is None or (isinstance(value, bool | int | str) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"no Avro default for {value!r}")
