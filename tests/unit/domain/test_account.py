"""Account aggregate: every rule and every refusal of PRODUCT.md §2 (accounts), given/when/then."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pytest
from tests.support.domain import make_id
from tests.support.ledger import TransferFacts

import eventledger_events as ev
from eventledger_command.domain import (
    Account,
    AccountClosedError,
    AccountFrozenError,
    AccountHasOpenHoldsError,
    AccountNotEmptyError,
    AccountNotFrozenError,
    AccountStatus,
    CorruptHistoryError,
    CurrencyMismatchError,
    HoldAlreadyPlacedError,
    HoldNotFoundError,
    InsufficientFundsError,
    InvalidAmountError,
    InvalidCurrencyError,
    InvalidHolderNameError,
    InvalidOverdraftLimitError,
    rebuild_account,
)

if TYPE_CHECKING:
    from tests.support.domain import AccountSpec

pytestmark = pytest.mark.unit

ACCOUNT, OTHER = make_id("account"), make_id("other")
T1, T2, T3 = make_id("t1"), make_id("t2"), make_id("t3")
EXPIRES = datetime(2030, 6, 1, 13, 0, tzinfo=UTC)


AccountCommand = Callable[[Account], list[ev.AccountEvent]]


def opened(overdraft_limit: int = 0, currency: str = "EUR") -> ev.AccountOpened:
    return ev.AccountOpened(
        account_id=ACCOUNT, holder_name="Ada Lovelace", currency=currency, overdraft_limit=overdraft_limit
    )


def credited(amount: int, balance_after: int, transfer_id: UUID = T1, description: str = "") -> ev.AccountCredited:
    return TransferFacts(transfer_id, OTHER, ACCOUNT, amount, description=description).credited(balance_after)


def debited(amount: int, balance_after: int, transfer_id: UUID = T2, description: str = "") -> ev.AccountDebited:
    return TransferFacts(transfer_id, ACCOUNT, OTHER, amount, description=description).debited(balance_after)


def hold_placed(amount: int, transfer_id: UUID = T3) -> ev.AccountHoldPlaced:
    return TransferFacts(transfer_id, ACCOUNT, OTHER, amount).hold_placed(EXPIRES)


def hold_released(amount: int, reason: ev.HoldReleaseReason, transfer_id: UUID = T3) -> ev.AccountHoldReleased:
    return TransferFacts(transfer_id, ACCOUNT, OTHER, amount).hold_released(reason)


def _credit(amount: Any, currency: str = "EUR", transfer_id: UUID = T1) -> AccountCommand:
    return lambda account: account.credit(transfer_id, amount=amount, currency=currency, counterparty_account_id=OTHER)


def _debit(amount: Any, currency: str = "EUR", transfer_id: UUID = T2) -> AccountCommand:
    return lambda account: account.debit(transfer_id, amount=amount, currency=currency, counterparty_account_id=OTHER)


def _hold(amount: Any, currency: str = "EUR", transfer_id: UUID = T3) -> AccountCommand:
    return lambda account: account.place_hold(transfer_id, amount=amount, currency=currency, expires_at=EXPIRES)


Spend = Callable[[Any, str], AccountCommand]
SPENDING = [pytest.param(_debit, id="debit"), pytest.param(_hold, id="hold")]


# ---------------------------------------------------------------------- opening


class TestOpen:
    def test_an_account_opens_with_holder_currency_and_overdraft_limit(self, account_spec: AccountSpec) -> None:
        account_spec.given().when_creating(lambda: Account.open(ACCOUNT, "Ada Lovelace", "EUR", 500)).then(opened(500))

    def test_the_overdraft_limit_defaults_to_zero(self, account_spec: AccountSpec) -> None:
        account_spec.given().when_creating(lambda: Account.open(ACCOUNT, "Ada Lovelace", "EUR")).then(opened(0))

    def test_the_holder_name_is_trimmed(self, account_spec: AccountSpec) -> None:
        account_spec.given().when_creating(lambda: Account.open(ACCOUNT, "  Ada Lovelace ", "EUR")).then(opened())

    @pytest.mark.parametrize("name", ["", "   ", "\t\n"])
    def test_a_blank_holder_name_is_refused(self, account_spec: AccountSpec, name: str) -> None:
        account_spec.given().when_creating(lambda: Account.open(ACCOUNT, name, "EUR")).then_raises(
            InvalidHolderNameError, "invalid_holder_name"
        )

    @pytest.mark.parametrize("currency", ["eur", "EURO", "ABC", "XXX", "", "E1R"])
    def test_a_currency_that_is_not_iso_4217_is_refused(self, account_spec: AccountSpec, currency: str) -> None:
        account_spec.given().when_creating(lambda: Account.open(ACCOUNT, "Ada", currency)).then_raises(
            InvalidCurrencyError, "invalid_currency"
        )

    @pytest.mark.parametrize("limit", [-1, 1.5, True, "10"])
    def test_a_negative_or_non_integer_overdraft_limit_is_refused(self, account_spec: AccountSpec, limit: Any) -> None:
        account_spec.given().when_creating(lambda: Account.open(ACCOUNT, "Ada", "EUR", limit)).then_raises(
            InvalidOverdraftLimitError, "invalid_overdraft_limit"
        )

    def test_a_new_account_is_open_and_empty(self, account_spec: AccountSpec) -> None:
        account = account_spec.given(opened(300)).state
        assert (account.status, account.balance, account.available, account.held) == (
            AccountStatus.OPEN,
            0,
            300,
            0,
        )


# ---------------------------------------------------------------------- statuses


class TestStatuses:
    def test_an_open_account_can_be_frozen(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened()).when(Account.freeze).then(ev.AccountFrozen(account_id=ACCOUNT))

    def test_a_frozen_account_cannot_be_frozen_again(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(), ev.AccountFrozen(account_id=ACCOUNT)).when(Account.freeze).then_raises(
            AccountFrozenError, "account_frozen"
        )

    def test_a_frozen_account_can_be_unfrozen(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), ev.AccountFrozen(account_id=ACCOUNT))
        given.when(Account.unfreeze).then(ev.AccountUnfrozen(account_id=ACCOUNT))

    def test_an_open_account_cannot_be_unfrozen(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened()).when(Account.unfreeze).then_raises(AccountNotFrozenError, "account_not_frozen")

    def test_freeze_and_unfreeze_alternate(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(
            opened(), ev.AccountFrozen(account_id=ACCOUNT), ev.AccountUnfrozen(account_id=ACCOUNT)
        )
        assert given.state.status is AccountStatus.OPEN
        given.when(Account.freeze).then(ev.AccountFrozen(account_id=ACCOUNT))

    def test_an_erasure_marks_the_account_erased_and_changes_nothing_else(self, account_spec: AccountSpec) -> None:
        erased = ev.AccountPersonalDataErased(
            account_id=ACCOUNT,
            key_id="0123456789abcdef0123456789abcdef",
            erased_by="admin",
            reason="asked to be forgotten",
            erased_at=datetime(2026, 12, 6, tzinfo=UTC),
        )
        before = account_spec.given(opened()).state
        after = account_spec.given(opened(), erased).state
        assert (before.erased, after.erased) == (False, True)
        assert after == replace(before, erased=True)

    def test_an_empty_open_account_can_be_closed(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened()).when(Account.close).then(ev.AccountClosed(account_id=ACCOUNT))

    def test_an_empty_frozen_account_can_be_closed(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), ev.AccountFrozen(account_id=ACCOUNT))
        given.when(Account.close).then(ev.AccountClosed(account_id=ACCOUNT))

    def test_an_account_whose_money_came_and_went_can_be_closed(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), credited(100, 100), debited(100, 0))
        given.when(Account.close).then(ev.AccountClosed(account_id=ACCOUNT))

    def test_closing_needs_a_zero_balance(self, account_spec: AccountSpec) -> None:
        error = (
            account_spec.given(opened(), credited(100, 100))
            .when(Account.close)
            .then_raises(AccountNotEmptyError, "account_not_empty")
        )
        assert error.details["balance"] == 100

    def test_an_overdrawn_account_cannot_be_closed(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(500), debited(200, -200)).when(Account.close).then_raises(
            AccountNotEmptyError, "account_not_empty"
        )

    def test_closing_needs_no_open_hold(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(500), hold_placed(100)).when(Account.close).then_raises(
            AccountHasOpenHoldsError, "account_has_open_holds"
        )

    def test_closing_is_allowed_once_holds_are_released(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(500), hold_placed(100), hold_released(100, ev.HoldReleaseReason.VOIDED))
        given.when(Account.close).then(ev.AccountClosed(account_id=ACCOUNT))

    @pytest.mark.parametrize("command", [Account.freeze, Account.unfreeze, Account.close])
    def test_a_closed_account_changes_status_no_more(self, account_spec: AccountSpec, command: Any) -> None:
        account_spec.given(opened(), ev.AccountClosed(account_id=ACCOUNT)).when(command).then_raises(
            AccountClosedError, "account_closed"
        )


# ---------------------------------------------------------------------- credits


class TestCredit:
    def test_an_open_account_is_credited_with_the_balance_after(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), credited(100, 100))
        given.when(
            lambda account: account.credit(
                T2, amount=250, currency="EUR", counterparty_account_id=OTHER, description="salary"
            )
        ).then(credited(250, 350, T2, "salary"))

    def test_credits_are_allowed_on_a_frozen_account(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(), ev.AccountFrozen(account_id=ACCOUNT)).when(_credit(100)).then(credited(100, 100))

    def test_a_closed_account_receives_nothing(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(), ev.AccountClosed(account_id=ACCOUNT)).when(_credit(100)).then_raises(
            AccountClosedError, "account_closed"
        )

    def test_a_credit_in_another_currency_is_refused(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened()).when(_credit(100, "USD")).then_raises(CurrencyMismatchError, "currency_mismatch")

    @pytest.mark.parametrize("amount", [0, -100, 1.5, 100.0, True, None])
    def test_a_credit_must_be_a_positive_integer(self, account_spec: AccountSpec, amount: Any) -> None:
        account_spec.given(opened()).when(_credit(amount)).then_raises(InvalidAmountError, "invalid_amount")


# ---------------------------------------------------------------------- debits


class TestDebit:
    def test_an_open_account_is_debited_within_its_balance(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(), credited(300, 300)).when(_debit(120)).then(debited(120, 180))

    def test_the_whole_balance_can_be_debited(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(), credited(300, 300)).when(_debit(300)).then(debited(300, 0))

    def test_a_debit_beyond_the_balance_is_refused_without_overdraft(self, account_spec: AccountSpec) -> None:
        error = (
            account_spec.given(opened(), credited(300, 300))
            .when(_debit(301))
            .then_raises(InsufficientFundsError, "insufficient_funds")
        )
        assert (error.details["available"], error.details["requested"]) == (300, 301)

    def test_the_overdraft_limit_is_honoured_to_the_last_cent(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(overdraft_limit=500), credited(100, 100))
        given.when(_debit(600)).then(debited(600, -500))
        given.when(_debit(601)).then_raises(InsufficientFundsError, "insufficient_funds")

    def test_an_overdrawn_account_can_be_debited_down_to_its_limit_only(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(overdraft_limit=500), debited(400, -400))
        assert given.state.available == 100
        given.when(_debit(100)).then(debited(100, -500))
        given.when(_debit(101)).then_raises(InsufficientFundsError, "insufficient_funds")


class TestSpending:
    """A debit and a new hold both spend ``available``: they are refused alike."""

    @pytest.mark.parametrize("spend", SPENDING)
    def test_a_frozen_account_cannot_spend(self, account_spec: AccountSpec, spend: Spend) -> None:
        account_spec.given(opened(), credited(300, 300), ev.AccountFrozen(account_id=ACCOUNT)).when(
            spend(10, "EUR")
        ).then_raises(AccountFrozenError, "account_frozen")

    @pytest.mark.parametrize("spend", SPENDING)
    def test_a_closed_account_cannot_spend(self, account_spec: AccountSpec, spend: Spend) -> None:
        account_spec.given(opened(500), ev.AccountClosed(account_id=ACCOUNT)).when(spend(10, "EUR")).then_raises(
            AccountClosedError, "account_closed"
        )

    @pytest.mark.parametrize("spend", SPENDING)
    def test_spending_another_currency_is_refused(self, account_spec: AccountSpec, spend: Spend) -> None:
        account_spec.given(opened(), credited(300, 300)).when(spend(10, "GBP")).then_raises(
            CurrencyMismatchError, "currency_mismatch"
        )

    @pytest.mark.parametrize("spend", SPENDING)
    @pytest.mark.parametrize("amount", [0, -1, 2.5, False])
    def test_what_is_spent_must_be_a_positive_integer(
        self, account_spec: AccountSpec, spend: Spend, amount: Any
    ) -> None:
        account_spec.given(opened(), credited(300, 300)).when(spend(amount, "EUR")).then_raises(
            InvalidAmountError, "invalid_amount"
        )


# ---------------------------------------------------------------------- holds


class TestHolds:
    def test_a_hold_reduces_available_but_not_the_balance(self, account_spec: AccountSpec) -> None:
        account = account_spec.given(opened(100), credited(300, 300), hold_placed(250)).state
        assert (account.balance, account.held, account.available) == (300, 250, 150)

    def test_a_hold_is_placed_within_available(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(100), credited(300, 300)).when(_hold(400)).then(hold_placed(400))

    def test_a_hold_beyond_available_is_refused(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(100), credited(300, 300)).when(_hold(401)).then_raises(
            InsufficientFundsError, "insufficient_funds"
        )

    def test_holds_reduce_what_can_be_debited(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), credited(300, 300), hold_placed(250))
        given.when(_debit(51)).then_raises(InsufficientFundsError, "insufficient_funds")
        given.when(_debit(50)).then(debited(50, 250))

    def test_holds_reduce_what_can_be_held(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), credited(300, 300), hold_placed(250))
        given.when(_hold(51, transfer_id=T1)).then_raises(InsufficientFundsError, "insufficient_funds")

    def test_one_transfer_holds_once(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(), credited(300, 300), hold_placed(10)).when(_hold(10)).then_raises(
            HoldAlreadyPlacedError, "hold_already_placed"
        )

    @pytest.mark.parametrize("reason", [ev.HoldReleaseReason.VOIDED, ev.HoldReleaseReason.EXPIRED])
    def test_a_hold_is_released_with_its_reason(self, account_spec: AccountSpec, reason: ev.HoldReleaseReason) -> None:
        given = account_spec.given(opened(), credited(300, 300), hold_placed(250))
        given.when(lambda account: account.release_hold(T3, reason)).then(hold_released(250, reason))

    def test_releasing_a_hold_restores_available(self, account_spec: AccountSpec) -> None:
        account = account_spec.given(
            opened(), credited(300, 300), hold_placed(250), hold_released(250, ev.HoldReleaseReason.EXPIRED)
        ).state
        assert (account.available, account.holds) == (300, {})

    def test_a_frozen_account_releases_holds(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), credited(300, 300), hold_placed(250), ev.AccountFrozen(account_id=ACCOUNT))
        given.when(lambda account: account.release_hold(T3, ev.HoldReleaseReason.VOIDED)).then(
            hold_released(250, ev.HoldReleaseReason.VOIDED)
        )

    def test_an_unknown_hold_cannot_be_released(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened()).when(
            lambda account: account.release_hold(T3, ev.HoldReleaseReason.VOIDED)
        ).then_raises(HoldNotFoundError, "hold_not_found")

    def test_a_hold_is_released_as_posted_only_by_capturing_it(self, account_spec: AccountSpec) -> None:
        account = account_spec.given(opened(), credited(300, 300), hold_placed(250)).state
        with pytest.raises(ValueError, match="capture_hold"):
            account.release_hold(T3, ev.HoldReleaseReason.POSTED)

    def test_capturing_a_hold_releases_it_and_debits_together(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), credited(300, 300), hold_placed(250))
        given.when(lambda account: account.capture_hold(T3, counterparty_account_id=OTHER, description="rent")).then(
            hold_released(250, ev.HoldReleaseReason.POSTED),
            debited(250, 50, T3, "rent"),
        )

    def test_after_capture_available_is_unchanged_and_balance_is_lower(self, account_spec: AccountSpec) -> None:
        account = account_spec.given(
            opened(),
            credited(300, 300),
            hold_placed(250),
            hold_released(250, ev.HoldReleaseReason.POSTED),
            debited(250, 50, T3),
        ).state
        assert (account.balance, account.available, account.holds) == (50, 50, {})

    def test_a_frozen_account_cannot_capture_a_hold(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(), credited(300, 300), hold_placed(250), ev.AccountFrozen(account_id=ACCOUNT)).when(
            lambda account: account.capture_hold(T3, counterparty_account_id=OTHER)
        ).then_raises(AccountFrozenError, "account_frozen")

    def test_an_unknown_hold_cannot_be_captured(self, account_spec: AccountSpec) -> None:
        account_spec.given(opened(), credited(300, 300)).when(
            lambda account: account.capture_hold(T3, counterparty_account_id=OTHER)
        ).then_raises(HoldNotFoundError, "hold_not_found")


# ---------------------------------------------------------------------- evolution


class TestEvolution:
    def test_balance_is_credits_minus_debits(self) -> None:
        account = rebuild_account(
            [opened(1000), credited(500, 500, T1), debited(800, -300, T2), credited(50, -250, T3)]
        )
        assert account is not None
        assert account.balance == -250
        assert account.available == 750

    def test_an_empty_stream_is_no_account(self) -> None:
        assert rebuild_account([]) is None

    def test_rebuilding_continues_from_a_given_state(self) -> None:
        middle = rebuild_account([opened(), credited(100, 100)])
        assert rebuild_account([debited(30, 70)], middle).balance == 70  # type: ignore[union-attr]

    def test_commands_never_mutate_the_state(self, account_spec: AccountSpec) -> None:
        given = account_spec.given(opened(), credited(300, 300))
        before = given.state
        given.when(_debit(100)).then(debited(100, 200))
        assert given.state == before
        assert given.state.balance == 300

    @pytest.mark.parametrize(
        "history",
        [
            [credited(1, 1)],
            [opened(), opened()],
            [opened(), hold_released(1, ev.HoldReleaseReason.VOIDED)],
        ],
        ids=["movement-before-open", "opened-twice", "release-without-hold"],
    )
    def test_impossible_histories_are_reported(self, history: list[Any]) -> None:
        with pytest.raises(CorruptHistoryError):
            rebuild_account(history)

    def test_holds_expiry_is_tracked(self, account_spec: AccountSpec) -> None:
        account = account_spec.given(opened(), credited(300, 300), hold_placed(10)).state
        assert account.holds[T3].expires_at == EXPIRES
        assert account.holds[T3].expires_at - timedelta(hours=1) == datetime(2030, 6, 1, 12, tzinfo=UTC)
