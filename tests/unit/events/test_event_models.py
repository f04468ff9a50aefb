"""Event payload models: stable versioned names, frozen values, money as integers, instants in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from eventledger_events import (
    EVENT_REGISTRY,
    AccountCredited,
    AccountHoldPlaced,
    AccountOpened,
    DomainEvent,
)
from eventledger_events.streams import STREAM_CATEGORIES

pytestmark = pytest.mark.unit

EVENT_TYPE_PATTERN = re.compile(r"^[a-z]+\.[a-z_]+$")


def _credited(**changes: object) -> AccountCredited:
    fields: dict[str, object] = {
        "account_id": uuid4(),
        "transfer_id": uuid4(),
        "amount": 100,
        "currency": "EUR",
        "balance_after": 100,
        "counterparty_account_id": uuid4(),
    }
    fields.update(changes)
    return AccountCredited.model_validate(fields)


@pytest.mark.parametrize("model", EVENT_REGISTRY.models(), ids=lambda model: model.full_name())
def test_every_event_has_an_explicit_versioned_name_that_is_not_a_module_path(model: type[DomainEvent]) -> None:
    assert EVENT_TYPE_PATTERN.match(model.EVENT_TYPE)
    assert model.category() in STREAM_CATEGORIES
    assert model.SCHEMA_VERSION >= 1
    assert model.full_name() == f"{model.EVENT_TYPE}.v{model.SCHEMA_VERSION}"
    assert model.__module__ not in model.full_name()


def test_current_and_legacy_versions_of_account_opened() -> None:
    assert AccountOpened.full_name() == "account.opened.v2"
    assert EVENT_REGISTRY.model_for("account.opened", 1).full_name() == "account.opened.v1"


def test_payloads_are_frozen(sample_payload: DomainEvent) -> None:
    first_field = next(iter(type(sample_payload).model_fields))
    with pytest.raises(ValidationError):
        setattr(sample_payload, first_field, None)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        _credited(surprise=1)


@pytest.mark.parametrize("amount", [0, -5, 1.5, 100.0, True, "100"])
def test_money_is_a_positive_integer_of_minor_units(amount: object) -> None:
    with pytest.raises(ValidationError):
        _credited(amount=amount)


def test_a_balance_may_be_negative_but_must_be_an_integer() -> None:
    assert _credited(balance_after=-300).balance_after == -300
    with pytest.raises(ValidationError):
        _credited(balance_after=-3.5)


@pytest.mark.parametrize("currency", ["eur", "EURO", "E1R", "", "€"])
def test_currency_is_three_upper_case_letters(currency: str) -> None:
    with pytest.raises(ValidationError):
        _credited(currency=currency)


def test_overdraft_limit_defaults_to_zero_and_is_never_negative() -> None:
    opened = AccountOpened(account_id=uuid4(), holder_name="Ada", currency="EUR")
    assert opened.overdraft_limit == 0
    with pytest.raises(ValidationError):
        AccountOpened(account_id=uuid4(), holder_name="Ada", currency="EUR", overdraft_limit=-1)


def test_holder_name_must_not_be_empty() -> None:
    with pytest.raises(ValidationError):
        AccountOpened(account_id=uuid4(), holder_name="", currency="EUR")


def test_instants_are_normalised_to_utc_and_naive_ones_refused() -> None:
    paris = timezone(timedelta(hours=1))
    hold = AccountHoldPlaced(
        account_id=uuid4(),
        transfer_id=uuid4(),
        amount=1,
        currency="EUR",
        expires_at=datetime(2030, 1, 1, 13, 0, tzinfo=paris),
    )
    assert hold.expires_at == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert hold.expires_at.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError):
        AccountHoldPlaced(
            account_id=uuid4(),
            transfer_id=uuid4(),
            amount=1,
            currency="EUR",
            expires_at=datetime(2030, 1, 1, 13, 0),
        )


def test_ids_must_be_uuids() -> None:
    with pytest.raises(ValidationError):
        _credited(account_id="not-a-uuid")
