"""Domain services: multi-stream decisions (double entry), given/when/then on an in-memory ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

import pytest
from tests.support.domain import make_id
from tests.support.ledger import TransferFacts

import eventledger_events as ev
from eventledger_command import domain

if TYPE_CHECKING:
    from tests.support.domain import InMemoryLedger, Outcome

pytestmark = pytest.mark.unit

ALICE, BOB, CAROL = make_id("alice"), make_id("bob"), make_id("carol")
T1, T2 = make_id("t1"), make_id("t2")
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=10)
EUR_EXTERNAL = domain.external_account_id("EUR")


def _open(
    ledger: InMemoryLedger, account_id: UUID, currency: str = "EUR", overdraft_limit: int = 0, funds: int = 0
) -> InMemoryLedger:
    ledger.apply(
        domain.open_account(
            account_id=account_id, holder_name="Holder", currency=currency, overdraft_limit=overdraft_limit
        )
    )
    if funds:
        ledger.apply(domain.deposit(ledger.account(account_id), transfer_id=uuid5(account_id, "funding"), amount=funds))
    return ledger


def _leg(
    kind: type[ev.AccountCredited | ev.AccountDebited],
    account_id: UUID,
    *,
    amount: int,
    after: int,
    counterparty: UUID,
    text: str = "",
) -> ev.DomainEvent:
    """One account leg of transfer T1."""
    if kind is ev.AccountCredited:
        return TransferFacts(T1, counterparty, account_id, amount, description=text).credited(after)
    return TransferFacts(T1, account_id, counterparty, amount, description=text).debited(after)


def _posted(kind: ev.TransferKind, source: UUID, destination: UUID, amount: int, text: str = "") -> ev.TransferPosted:
    """Transfer T1, posted in EUR."""
    return TransferFacts(T1, source, destination, amount, description=text).posted(kind)


def _external(kind: ev.TransferKind, account_id: UUID, amount: int, *, after: int, text: str = "") -> dict[str, Any]:
    """What a deposit (credit from the EUR external account) or a withdrawal (debit to it) of T1 decides: the
    posted transfer in its new stream, and the one leg on ``account_id`` (``then_decides``' arguments)."""
    deposit = kind is ev.TransferKind.DEPOSIT
    source, destination = (EUR_EXTERNAL, account_id) if deposit else (account_id, EUR_EXTERNAL)
    leg_kind = ev.AccountCredited if deposit else ev.AccountDebited
    leg = _leg(leg_kind, account_id, amount=amount, after=after, counterparty=EUR_EXTERNAL, text=text)
    expected = {
        domain.transfer_stream_id(T1): [_posted(kind, source, destination, amount, text)],
        domain.account_stream_id(account_id): [leg],
    }
    return {"expected": expected, "new_streams": [domain.transfer_stream_id(T1)]}


def _transfer(
    ledger: InMemoryLedger,
    amount: int,
    *,
    source: UUID = ALICE,
    destination: UUID = BOB,
    timeout: timedelta | None = None,
    transfer_id: UUID = T1,
) -> Outcome:
    return ledger.when(
        lambda led: domain.transfer(
            led.account(source),
            led.account(destination),
            transfer_id=transfer_id,
            amount=amount,
            now=NOW,
            description="rent",
            timeout=timeout,
        )
    )


# ---------------------------------------------------------------------- account lifecycle


def test_opening_an_account_creates_its_stream(ledger: InMemoryLedger) -> None:
    ledger.when(
        lambda _ledger: domain.open_account(account_id=ALICE, holder_name="Alice", currency="EUR", overdraft_limit=100)
    ).then_decides(
        {
            domain.account_stream_id(ALICE): [
                ev.AccountOpened(account_id=ALICE, holder_name="Alice", currency="EUR", overdraft_limit=100)
            ]
        },
        new_streams=[domain.account_stream_id(ALICE)],
    )


def test_opening_refuses_invalid_data(ledger: InMemoryLedger) -> None:
    ledger.when(lambda _ledger: domain.open_account(account_id=ALICE, holder_name="A", currency="eur")).then_raises(
        domain.InvalidCurrencyError, "invalid_currency"
    )


def test_status_changes_write_the_account_stream_only(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE)
    stream = domain.account_stream_id(ALICE)
    ledger.when(lambda led: domain.freeze_account(led.account(ALICE))).then_decides(
        {stream: [ev.AccountFrozen(account_id=ALICE)]}
    )
    ledger.apply(domain.freeze_account(ledger.account(ALICE)))
    ledger.when(lambda led: domain.unfreeze_account(led.account(ALICE))).then_decides(
        {stream: [ev.AccountUnfrozen(account_id=ALICE)]}
    )
    ledger.when(lambda led: domain.close_account(led.account(ALICE))).then_decides(
        {stream: [ev.AccountClosed(account_id=ALICE)]}
    )


def test_unknown_ids_are_not_found(ledger: InMemoryLedger) -> None:
    with pytest.raises(domain.AccountNotFoundError) as account_error:
        domain.require_account(None, ALICE)
    assert account_error.value.code == "not_found"
    with pytest.raises(domain.TransferNotFoundError) as transfer_error:
        domain.require_transfer(None, T1)
    assert transfer_error.value.code == "not_found"
    with pytest.raises(domain.AccountNotFoundError):
        ledger.account(CAROL)


# ---------------------------------------------------------------------- deposits and withdrawals


def test_a_deposit_credits_the_account_from_the_external_account(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE)
    ledger.when(
        lambda led: domain.deposit(led.account(ALICE), transfer_id=T1, amount=500, description="cash")
    ).then_decides(**_external(ev.TransferKind.DEPOSIT, ALICE, 500, after=500, text="cash"))


def test_a_deposit_writes_no_stream_of_the_external_account(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE)
    decision = domain.deposit(ledger.account(ALICE), transfer_id=T1, amount=500)
    assert set(decision.stream_ids) == {domain.transfer_stream_id(T1), domain.account_stream_id(ALICE)}
    assert domain.account_stream_id(EUR_EXTERNAL) not in decision.stream_ids


def test_deposits_to_different_accounts_share_no_stream(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE)
    _open(ledger, BOB)
    first = domain.deposit(ledger.account(ALICE), transfer_id=T1, amount=1)
    second = domain.deposit(ledger.account(BOB), transfer_id=T2, amount=1)
    assert not set(first.stream_ids) & set(second.stream_ids)


def test_a_frozen_account_accepts_deposits(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE)
    ledger.apply(domain.freeze_account(ledger.account(ALICE)))
    ledger.when(lambda led: domain.deposit(led.account(ALICE), transfer_id=T1, amount=5)).then_decides(
        **_external(ev.TransferKind.DEPOSIT, ALICE, 5, after=5)
    )


def test_a_closed_account_accepts_no_deposit(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE)
    ledger.apply(domain.close_account(ledger.account(ALICE)))
    ledger.when(lambda led: domain.deposit(led.account(ALICE), transfer_id=T1, amount=5)).then_raises(
        domain.AccountClosedError, "account_closed"
    )


@pytest.mark.parametrize("amount", [0, -5])
def test_a_deposit_must_be_positive(ledger: InMemoryLedger, amount: Any) -> None:
    _open(ledger, ALICE)
    ledger.when(lambda led: domain.deposit(led.account(ALICE), transfer_id=T1, amount=amount)).then_raises(
        domain.InvalidAmountError, "invalid_amount"
    )


def test_a_withdrawal_debits_the_account_to_the_external_account(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=500)
    ledger.when(lambda led: domain.withdrawal(led.account(ALICE), transfer_id=T1, amount=200)).then_decides(
        **_external(ev.TransferKind.WITHDRAWAL, ALICE, 200, after=300)
    )


def test_a_withdrawal_may_use_the_overdraft_but_not_beyond(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, overdraft_limit=100, funds=500)
    ledger.when(lambda led: domain.withdrawal(led.account(ALICE), transfer_id=T1, amount=601)).then_raises(
        domain.InsufficientFundsError, "insufficient_funds"
    )
    ledger.apply(domain.withdrawal(ledger.account(ALICE), transfer_id=T1, amount=600))
    assert ledger.account(ALICE).balance == -100


def test_a_frozen_account_allows_no_withdrawal(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=500)
    ledger.apply(domain.freeze_account(ledger.account(ALICE)))
    ledger.when(lambda led: domain.withdrawal(led.account(ALICE), transfer_id=T1, amount=1)).then_raises(
        domain.AccountFrozenError, "account_frozen"
    )


# ---------------------------------------------------------------------- transfers


def test_a_posted_transfer_debits_and_credits_together(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=500)
    _open(ledger, BOB, funds=20)
    _transfer(ledger, 300).then_decides(
        {
            domain.transfer_stream_id(T1): [_posted(ev.TransferKind.TRANSFER, ALICE, BOB, 300, "rent")],
            domain.account_stream_id(ALICE): [
                _leg(ev.AccountDebited, ALICE, amount=300, after=200, counterparty=BOB, text="rent")
            ],
            domain.account_stream_id(BOB): [
                _leg(ev.AccountCredited, BOB, amount=300, after=320, counterparty=ALICE, text="rent")
            ],
        },
        new_streams=[domain.transfer_stream_id(T1)],
    )


def test_a_transfer_needs_enough_available(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, overdraft_limit=50, funds=500)
    _open(ledger, BOB)
    _transfer(ledger, 551).then_raises(domain.InsufficientFundsError, "insufficient_funds")
    _transfer(ledger, 551, timeout=TIMEOUT).then_raises(domain.InsufficientFundsError, "insufficient_funds")


def test_a_transfer_needs_two_different_accounts(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=500)
    _transfer(ledger, 1, destination=ALICE).then_raises(domain.SameAccountError, "same_account")


def test_a_transfer_needs_the_same_currency(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=500)
    _open(ledger, CAROL, currency="USD")
    _transfer(ledger, 1, destination=CAROL).then_raises(domain.CurrencyMismatchError, "currency_mismatch")
    _transfer(ledger, 1, destination=CAROL, timeout=TIMEOUT).then_raises(
        domain.CurrencyMismatchError, "currency_mismatch"
    )


@pytest.mark.parametrize("amount", [0, -1])
def test_a_transfer_needs_a_positive_amount(ledger: InMemoryLedger, amount: Any) -> None:
    _open(ledger, ALICE, funds=500)
    _open(ledger, BOB)
    _transfer(ledger, amount).then_raises(domain.InvalidAmountError, "invalid_amount")


def test_a_frozen_source_cannot_send_but_a_frozen_destination_can_receive(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=500)
    _open(ledger, BOB, funds=500)
    ledger.apply(domain.freeze_account(ledger.account(ALICE)))
    _transfer(ledger, 1).then_raises(domain.AccountFrozenError, "account_frozen")
    _transfer(ledger, 1, timeout=TIMEOUT).then_raises(domain.AccountFrozenError, "account_frozen")
    ledger.apply(_transfer(ledger, 1, source=BOB, destination=ALICE).decision)
    assert ledger.account(ALICE).balance == 501


def test_a_closed_destination_receives_nothing_even_pending(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=500)
    _open(ledger, BOB)
    ledger.apply(domain.close_account(ledger.account(BOB)))
    _transfer(ledger, 1).then_raises(domain.AccountClosedError, "account_closed")
    _transfer(ledger, 1, timeout=TIMEOUT).then_raises(domain.AccountClosedError, "account_closed")


def test_a_refused_transfer_changes_nothing(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=100)
    _open(ledger, BOB)
    before = {stream: list(events) for stream, events in ledger.streams.items()}
    _transfer(ledger, 101).then_raises(domain.InsufficientFundsError, "insufficient_funds")
    assert ledger.streams == before


# ---------------------------------------------------------------------- two-phase transfers


def _pending_created(amount: int = 300) -> ev.TransferPendingCreated:
    return TransferFacts(T1, ALICE, BOB, amount, description="rent").pending(NOW + TIMEOUT)


def _with_pending(ledger: InMemoryLedger, amount: int = 300) -> InMemoryLedger:
    _open(ledger, ALICE, funds=500)
    _open(ledger, BOB)
    ledger.apply(_transfer(ledger, amount, timeout=TIMEOUT).decision)
    return ledger


def test_a_pending_transfer_places_a_hold_on_the_source_only(ledger: InMemoryLedger) -> None:
    _open(ledger, ALICE, funds=500)
    _open(ledger, BOB)
    _transfer(ledger, 300, timeout=TIMEOUT).then_decides(
        {
            domain.transfer_stream_id(T1): [_pending_created()],
            domain.account_stream_id(ALICE): [
                ev.AccountHoldPlaced(
                    account_id=ALICE, transfer_id=T1, amount=300, currency="EUR", expires_at=NOW + TIMEOUT
                )
            ],
        },
        new_streams=[domain.transfer_stream_id(T1)],
    )


def test_a_pending_transfer_reduces_available_but_not_balance(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    alice = ledger.account(ALICE)
    assert (alice.balance, alice.available) == (500, 200)
    _transfer(ledger, 201, transfer_id=T2).then_raises(domain.InsufficientFundsError, "insufficient_funds")


@pytest.mark.parametrize("timeout", [timedelta(0), timedelta(seconds=-1)])
def test_a_pending_transfer_needs_a_positive_timeout(ledger: InMemoryLedger, timeout: timedelta) -> None:
    _open(ledger, ALICE, funds=500)
    _open(ledger, BOB)
    _transfer(ledger, 1, timeout=timeout).then_raises(domain.InvalidTimeoutError, "invalid_timeout")


def test_posting_captures_the_hold_and_credits_the_destination(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    ledger.when(
        lambda led: domain.post_pending(
            led.transfer(T1), led.account(ALICE), led.account(BOB), now=NOW + timedelta(minutes=9)
        )
    ).then_decides(
        {
            domain.transfer_stream_id(T1): [
                ev.TransferPendingPosted(
                    transfer_id=T1, from_account_id=ALICE, to_account_id=BOB, amount=300, currency="EUR"
                )
            ],
            domain.account_stream_id(ALICE): [
                ev.AccountHoldReleased(
                    account_id=ALICE, transfer_id=T1, amount=300, currency="EUR", reason=ev.HoldReleaseReason.POSTED
                ),
                _leg(ev.AccountDebited, ALICE, amount=300, after=200, counterparty=BOB, text="rent").model_copy(
                    update={"value_date": NOW + timedelta(minutes=9)}
                ),
            ],
            domain.account_stream_id(BOB): [
                _leg(ev.AccountCredited, BOB, amount=300, after=300, counterparty=ALICE, text="rent").model_copy(
                    update={"value_date": NOW + timedelta(minutes=9)}
                )
            ],
        }
    )


def test_posting_after_expiry_is_refused(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    ledger.when(
        lambda led: domain.post_pending(led.transfer(T1), led.account(ALICE), led.account(BOB), now=NOW + TIMEOUT)
    ).then_raises(domain.TransferExpiredError, "transfer_expired")


def _post(ledger: InMemoryLedger) -> domain.Decision:
    """Post the pending transfer T1 from ALICE to BOB."""
    return domain.post_pending(ledger.transfer(T1), ledger.account(ALICE), ledger.account(BOB), now=NOW)


@pytest.mark.parametrize(
    ("meanwhile", "error", "code"),
    [
        pytest.param(_post, domain.TransferNotPendingError, "transfer_not_pending", id="posted-already"),
        pytest.param(
            lambda led: domain.freeze_account(led.account(ALICE)),
            domain.AccountFrozenError,
            "account_frozen",
            id="source-frozen",
        ),
        pytest.param(
            lambda led: domain.close_account(led.account(BOB)),
            domain.AccountClosedError,
            "account_closed",
            id="destination-closed",
        ),
    ],
)
def test_posting_is_refused_when_the_transfer_or_an_account_changed_meanwhile(
    ledger: InMemoryLedger,
    meanwhile: Callable[[InMemoryLedger], domain.Decision],
    error: type[domain.DomainError],
    code: str,
) -> None:
    _with_pending(ledger)
    ledger.apply(meanwhile(ledger))
    ledger.when(_post).then_raises(error, code)


def test_voiding_releases_the_hold(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    ledger.when(lambda led: domain.void_pending(led.transfer(T1), led.account(ALICE))).then_decides(
        {
            domain.transfer_stream_id(T1): [ev.TransferVoided(transfer_id=T1)],
            domain.account_stream_id(ALICE): [
                ev.AccountHoldReleased(
                    account_id=ALICE, transfer_id=T1, amount=300, currency="EUR", reason=ev.HoldReleaseReason.VOIDED
                )
            ],
        }
    )
    ledger.apply(domain.void_pending(ledger.transfer(T1), ledger.account(ALICE)))
    assert ledger.account(ALICE).available == 500
    ledger.when(lambda led: domain.void_pending(led.transfer(T1), led.account(ALICE))).then_raises(
        domain.TransferNotPendingError, "transfer_not_pending"
    )


def test_a_frozen_source_may_still_void(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    ledger.apply(domain.freeze_account(ledger.account(ALICE)))
    ledger.apply(domain.void_pending(ledger.transfer(T1), ledger.account(ALICE)))
    assert ledger.account(ALICE).holds == {}


def test_a_pending_transfer_expires_after_its_timeout_and_releases_the_hold(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    ledger.when(
        lambda led: domain.expire_pending(led.transfer(T1), led.account(ALICE), now=NOW + TIMEOUT)
    ).then_decides(
        {
            domain.transfer_stream_id(T1): [ev.TransferExpired(transfer_id=T1)],
            domain.account_stream_id(ALICE): [
                ev.AccountHoldReleased(
                    account_id=ALICE, transfer_id=T1, amount=300, currency="EUR", reason=ev.HoldReleaseReason.EXPIRED
                )
            ],
        }
    )


def test_a_pending_transfer_does_not_expire_before_its_timeout(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    ledger.when(
        lambda led: domain.expire_pending(
            led.transfer(T1), led.account(ALICE), now=NOW + TIMEOUT - timedelta(seconds=1)
        )
    ).then_raises(domain.TransferNotExpiredError, "transfer_not_expired")


def test_after_expiry_posting_is_refused_and_the_money_is_back(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    ledger.apply(domain.expire_pending(ledger.transfer(T1), ledger.account(ALICE), now=NOW + TIMEOUT))
    ledger.when(_post).then_raises(domain.TransferNotPendingError, "transfer_not_pending")
    assert (ledger.account(ALICE).available, ledger.account(BOB).balance) == (500, 0)


def test_a_hold_that_vanished_is_reported(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    alice_without_hold = ledger.account(ALICE).__class__(
        account_id=ALICE, holder_name="Holder", currency="EUR", overdraft_limit=0, balance=500
    )
    ledger.when(lambda led: domain.void_pending(led.transfer(T1), alice_without_hold)).then_raises(
        domain.HoldNotFoundError, "hold_not_found"
    )


def test_settlement_needs_the_transfers_own_accounts(ledger: InMemoryLedger) -> None:
    _with_pending(ledger)
    with pytest.raises(ValueError, match="not the source"):
        domain.void_pending(ledger.transfer(T1), ledger.account(BOB))
    with pytest.raises(ValueError, match="not the destination"):
        domain.post_pending(ledger.transfer(T1), ledger.account(ALICE), ledger.account(ALICE), now=NOW)
