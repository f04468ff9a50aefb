"""Domain error codes are stable and unique; decisions group events by stream."""

from __future__ import annotations

import inspect
from uuid import uuid4

import pytest

import eventledger_command.domain.errors as errors_module
from eventledger_command.domain import (
    AccountClosedError,
    Decision,
    DomainError,
    InvalidCommandError,
    NotFoundError,
    RuleViolationError,
    account_stream_id,
    external_account_id,
    transfer_stream_id,
)
from eventledger_events import AccountFrozen, AccountUnfrozen
from eventledger_events import external_account_id as contract_external_id

pytestmark = pytest.mark.unit

EXPECTED_CODES = {
    "InvalidAmountError": "invalid_amount",
    "InvalidCurrencyError": "invalid_currency",
    "InvalidHolderNameError": "invalid_holder_name",
    "InvalidDescriptionError": "invalid_description",
    "InvalidOverdraftLimitError": "invalid_overdraft_limit",
    "InvalidTimeoutError": "invalid_timeout",
    "InvalidValueDateError": "invalid_value_date",
    "SameAccountError": "same_account",
    "CurrencyMismatchError": "currency_mismatch",
    "InsufficientFundsError": "insufficient_funds",
    "AccountFrozenError": "account_frozen",
    "AccountNotFrozenError": "account_not_frozen",
    "AccountClosedError": "account_closed",
    "AccountNotEmptyError": "account_not_empty",
    "AccountHasOpenHoldsError": "account_has_open_holds",
    "HoldNotFoundError": "hold_not_found",
    "HoldAlreadyPlacedError": "hold_already_placed",
    "TransferNotPendingError": "transfer_not_pending",
    "TransferExpiredError": "transfer_expired",
    "TransferNotExpiredError": "transfer_not_expired",
    "AccountNotFoundError": "not_found",
    "TransferNotFoundError": "not_found",
}


def _concrete_errors() -> dict[str, type[DomainError]]:
    abstract = {DomainError, InvalidCommandError, RuleViolationError, NotFoundError}
    return {
        name: value
        for name, value in vars(errors_module).items()
        if inspect.isclass(value) and issubclass(value, DomainError) and value not in abstract
    }


def test_every_refusal_has_its_stable_code() -> None:
    assert {name: error.code for name, error in _concrete_errors().items()} == EXPECTED_CODES


def test_every_refusal_says_how_to_answer() -> None:
    for error in _concrete_errors().values():
        assert issubclass(error, InvalidCommandError | RuleViolationError | NotFoundError), error


def test_errors_carry_a_message_and_details() -> None:
    error = AccountClosedError("account is closed", account_id="x")
    assert (str(error), error.message, error.details) == ("account is closed", "account is closed", {"account_id": "x"})


def test_a_decision_keeps_stream_order_and_drops_empty_streams() -> None:
    first, second = account_stream_id(uuid4()), account_stream_id(uuid4())
    event = AccountFrozen(account_id=uuid4())
    decision = Decision.of({first: [event], second: [], "transfer-x": ()})
    assert decision.stream_ids == (first,)
    assert decision.events_for(first) == (event,)
    assert decision.events_for(second) == ()
    assert list(decision) == [(first, (event,))]


def test_a_new_stream_must_receive_events() -> None:
    with pytest.raises(ValueError, match="new streams without events"):
        Decision.of({account_stream_id(uuid4()): [AccountUnfrozen(account_id=uuid4())]}, new_streams=["account-x"])


def test_the_domain_uses_the_contracts_stream_ids_and_external_accounts() -> None:
    entity = uuid4()
    assert account_stream_id(entity) == f"account-{entity}"
    assert transfer_stream_id(entity) == f"transfer-{entity}"
    assert external_account_id("EUR") == contract_external_id("EUR")
