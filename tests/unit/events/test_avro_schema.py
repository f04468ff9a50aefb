"""The Avro schema generator: stable names, supported field types, and refusal of anything else."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal
from uuid import UUID

import pytest
from fastavro import parse_schema
from pydantic import AwareDatetime, Field

from eventledger_events import EVENT_REGISTRY, AccountOpened, DomainEvent, TransferPendingCreated
from eventledger_events.avro_schema import avro_full_name, avro_record_name, avro_schema_for

pytestmark = pytest.mark.unit


class _Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class _EverythingV3(DomainEvent):
    """All supported field types.

    Second paragraph, not in the schema doc.
    """

    EVENT_TYPE: ClassVar[str] = "transfer.everything_happened"
    SCHEMA_VERSION: ClassVar[int] = 3

    text: str = Field(description="Some text.")
    count: int
    flag: bool = False
    ident: UUID
    moment: AwareDatetime
    plain_moment: datetime
    colour: _Colour = _Colour.BLUE
    second_colour: _Colour
    shade: Literal["light", "dark"]
    maybe_text: str | None = None
    maybe_count: int | None = 5


def _field(schema: dict[str, Any], name: str) -> Any:
    return next(field for field in schema["fields"] if field["name"] == name)


def test_record_names_are_stable_and_versioned() -> None:
    assert avro_record_name("account.hold_placed", 1) == "AccountHoldPlacedV1"
    assert avro_full_name(AccountOpened) == "eventledger.account.AccountOpenedV2"
    schema = avro_schema_for(TransferPendingCreated)
    assert (schema["namespace"], schema["name"]) == ("eventledger.transfer", "TransferPendingCreatedV1")
    assert "aliases" not in schema


def test_later_versions_alias_the_earlier_names() -> None:
    schema = avro_schema_for(_EverythingV3)
    assert schema["aliases"] == [
        "eventledger.transfer.TransferEverythingHappenedV1",
        "eventledger.transfer.TransferEverythingHappenedV2",
    ]


def test_every_supported_field_type_maps_as_documented() -> None:
    schema = avro_schema_for(_EverythingV3)
    assert schema["doc"] == "All supported field types."
    assert _field(schema, "text") == {"name": "text", "type": "string", "doc": "Some text."}
    assert _field(schema, "count")["type"] == "long"
    assert _field(schema, "flag") == {"name": "flag", "type": "boolean", "default": False}
    assert _field(schema, "ident")["type"] == {"type": "string", "logicalType": "uuid"}
    assert _field(schema, "moment")["type"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert _field(schema, "plain_moment")["type"] == {"type": "long", "logicalType": "timestamp-micros"}
    colour = _field(schema, "colour")
    assert colour["type"]["type"] == "enum"
    assert colour["type"]["symbols"] == ["red", "blue"]
    assert colour["default"] == "blue"
    assert _field(schema, "second_colour")["type"] == "eventledger.transfer._Colour"
    assert _field(schema, "shade")["type"] == "string"
    assert _field(schema, "maybe_text") == {"name": "maybe_text", "type": ["null", "string"], "default": None}
    assert _field(schema, "maybe_count") == {"name": "maybe_count", "type": ["long", "null"], "default": 5}
    parse_schema(schema)


@pytest.mark.parametrize("model", EVENT_REGISTRY.models(), ids=lambda model: model.full_name())
def test_every_registered_schema_is_valid_avro(model: type[DomainEvent]) -> None:
    parse_schema(avro_schema_for(model))


def test_an_unsupported_field_type_is_refused() -> None:
    class _FloatyV1(DomainEvent):
        EVENT_TYPE: ClassVar[str] = "account.floated"
        SCHEMA_VERSION: ClassVar[int] = 1
        amount: float

    with pytest.raises(TypeError, match="amount"):
        avro_schema_for(_FloatyV1)


def test_a_default_factory_cannot_be_published() -> None:
    class _FactoryV1(DomainEvent):
        EVENT_TYPE: ClassVar[str] = "account.factored"
        SCHEMA_VERSION: ClassVar[int] = 1
        name: str = Field(default_factory=str)

    with pytest.raises(TypeError, match="default factories"):
        avro_schema_for(_FactoryV1)
