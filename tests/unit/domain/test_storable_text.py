"""Text the event store cannot keep (NUL, a lone surrogate) is refused by the domain's value checks and by the event
types themselves, so no path (HTTP, a CLI, a replayed event) can carry it to the store."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import eventledger_events as ev
from eventledger_command import domain
from eventledger_events.bounds import MAX_INT64, require_storable_text, unstorable_text_reason

pytestmark = pytest.mark.unit

UNSTORABLE = ["\x00", "a\x00b", "\ud800", "x\udfff"]
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def _account(currency: str = "EUR") -> domain.Account:
    events = domain.Account.open(uuid.uuid4(), "Holder", currency)
    account = domain.evolve_account(None, events[0])
    assert account is not None
    return account


@given(st.text())
def test_text_is_storable_exactly_when_it_has_no_nul_and_no_lone_surrogate(text: str) -> None:
    storable = "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    assert (unstorable_text_reason(text) is None) == storable
    if storable:
        assert require_storable_text(text) == text
    else:
        with pytest.raises(ValueError, match="must not contain"):
            require_storable_text(text)


def test_the_bound_of_positions_is_postgres_bigint() -> None:
    assert MAX_INT64 == 9_223_372_036_854_775_807


@pytest.mark.parametrize("text", UNSTORABLE)
def test_an_unstorable_holder_name_is_an_invalid_command(text: str) -> None:
    with pytest.raises(domain.InvalidHolderNameError, match="holder name must not contain"):
        domain.open_account(account_id=uuid.uuid4(), holder_name=text, currency="EUR")


@pytest.mark.parametrize("text", UNSTORABLE)
def test_an_unstorable_description_is_an_invalid_command_on_every_movement(text: str) -> None:
    source, destination = _account(), _account()
    funded = domain.evolve_account(
        source,
        ev.AccountCredited(
            account_id=source.account_id,
            transfer_id=uuid.uuid4(),
            amount=100,
            currency="EUR",
            balance_after=100,
            counterparty_account_id=domain.external_account_id("EUR"),
        ),
    )
    assert funded is not None
    movements: list[Callable[[], object]] = [
        lambda: domain.deposit(destination, transfer_id=uuid.uuid4(), amount=1, description=text),
        lambda: domain.withdrawal(funded, transfer_id=uuid.uuid4(), amount=1, description=text),
        lambda: domain.transfer(funded, destination, transfer_id=uuid.uuid4(), amount=1, now=NOW, description=text),
        lambda: domain.transfer(
            funded,
            destination,
            transfer_id=uuid.uuid4(),
            amount=1,
            now=NOW,
            description=text,
            timeout=timedelta(minutes=1),
        ),
    ]
    for move in movements:
        with pytest.raises(domain.InvalidDescriptionError, match="description must not contain"):
            move()


@pytest.mark.parametrize("text", UNSTORABLE)
def test_an_event_cannot_carry_unstorable_text(text: str) -> None:
    with pytest.raises(ValidationError, match="holder_name"):
        ev.AccountOpened(account_id=uuid.uuid4(), holder_name=text, currency="EUR")
    with pytest.raises(ValidationError, match="description"):
        ev.TransferPosted(
            transfer_id=uuid.uuid4(),
            kind=ev.TransferKind.DEPOSIT,
            from_account_id=uuid.uuid4(),
            to_account_id=uuid.uuid4(),
            amount=1,
            currency="EUR",
            description=text,
        )
