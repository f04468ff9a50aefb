"""The registry: name + version -> model, current versions, and upcasting old payloads on read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from pydantic import ValidationError

from eventledger_events import (
    EVENT_REGISTRY,
    AccountOpened,
    AccountOpenedV1,
    DomainEvent,
    EventRegistry,
    MissingUpcasterError,
    UnknownEventTypeError,
    UnknownSchemaVersionError,
    current_version,
    model_for,
    payload_from_dict,
)

pytestmark = pytest.mark.unit


class _ThingAddedV1(DomainEvent):
    EVENT_TYPE: ClassVar[str] = "account.thing_added"
    SCHEMA_VERSION: ClassVar[int] = 1
    name: str


class _ThingAddedV2(DomainEvent):
    EVENT_TYPE: ClassVar[str] = "account.thing_added"
    SCHEMA_VERSION: ClassVar[int] = 2
    name: str
    size: int


class _ThingAddedV3(DomainEvent):
    EVENT_TYPE: ClassVar[str] = "account.thing_added"
    SCHEMA_VERSION: ClassVar[int] = 3
    label: str
    size: int


def _add_size(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {**payload, "size": 1}


def _rename_to_label(payload: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(payload)
    data["label"] = data.pop("name")
    return data


def _three_versions() -> EventRegistry:
    registry = EventRegistry()
    for model in (_ThingAddedV1, _ThingAddedV2, _ThingAddedV3):
        registry.register(model)
    registry.register_upcaster("account.thing_added", 1, _add_size)
    registry.register_upcaster("account.thing_added", 2, _rename_to_label)
    return registry


def test_current_version_is_the_highest_registered() -> None:
    assert current_version("account.opened") == 2
    assert current_version("transfer.posted") == 2
    assert current_version("transfer.voided") == 1


def test_model_for_finds_current_and_legacy_models() -> None:
    assert model_for("account.opened", 2) is AccountOpened
    assert model_for("account.opened", 1) is AccountOpenedV1


def test_a_v1_account_opened_is_upcast_to_v2_with_no_overdraft() -> None:
    account_id = uuid4()
    payload = payload_from_dict(
        "account.opened", 1, {"account_id": str(account_id), "holder_name": "Ada", "currency": "EUR"}
    )
    assert payload == AccountOpened(account_id=account_id, holder_name="Ada", currency="EUR", overdraft_limit=0)


def test_a_current_payload_is_validated_as_is() -> None:
    account_id = uuid4()
    data = {"account_id": str(account_id), "holder_name": "Ada", "currency": "EUR", "overdraft_limit": 7}
    assert payload_from_dict("account.opened", 2, data).overdraft_limit == 7  # type: ignore[attr-defined]


def test_old_data_is_validated_against_the_schema_it_was_written_with() -> None:
    with pytest.raises(ValidationError) as raised:
        payload_from_dict("account.opened", 1, {"account_id": str(uuid4()), "holder_name": "Ada"})
    assert raised.value.title == AccountOpenedV1.__name__


def test_the_upcaster_chain_runs_step_by_step() -> None:
    registry = _three_versions()
    assert registry.payload_from_dict("account.thing_added", 1, {"name": "x"}) == _ThingAddedV3(label="x", size=1)
    assert registry.payload_from_dict("account.thing_added", 2, {"name": "y", "size": 5}) == _ThingAddedV3(
        label="y", size=5
    )


def test_a_missing_step_of_the_chain_is_detected() -> None:
    registry = EventRegistry()
    for model in (_ThingAddedV1, _ThingAddedV2, _ThingAddedV3):
        registry.register(model)
    registry.register_upcaster("account.thing_added", 2, _rename_to_label)
    with pytest.raises(MissingUpcasterError):
        registry.check_upcaster_chains()
    with pytest.raises(MissingUpcasterError):
        registry.payload_from_dict("account.thing_added", 1, {"name": "x"})


def test_the_default_registry_has_complete_chains() -> None:
    EVENT_REGISTRY.check_upcaster_chains()


def test_unknown_types_and_versions_are_refused() -> None:
    with pytest.raises(UnknownEventTypeError):
        payload_from_dict("account.teleported", 1, {})
    with pytest.raises(UnknownSchemaVersionError):
        payload_from_dict("account.opened", 3, {})
    with pytest.raises(UnknownSchemaVersionError):
        model_for("account.opened", 9)


def test_a_model_or_an_upcaster_registers_only_once() -> None:
    registry = _three_versions()
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_ThingAddedV1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_upcaster("account.thing_added", 1, _add_size)


def test_listings_are_sorted_and_complete() -> None:
    registry = _three_versions()
    assert registry.event_types() == ("account.thing_added",)
    assert registry.models() == (_ThingAddedV1, _ThingAddedV2, _ThingAddedV3)
    assert registry.current_models() == (_ThingAddedV3,)
    assert {model.full_name() for model in EVENT_REGISTRY.current_models()} == {
        "account.opened.v2",
        "account.frozen.v1",
        "account.unfrozen.v1",
        "account.closed.v1",
        "account.credited.v2",
        "account.debited.v2",
        "account.hold_placed.v1",
        "account.hold_released.v1",
        "account.personal_data_erased.v1",
        "transfer.posted.v2",
        "transfer.pending_created.v1",
        "transfer.pending_posted.v1",
        "transfer.voided.v1",
        "transfer.expired.v1",
    }
